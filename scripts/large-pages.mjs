// The large-page decision of src/shared/large-pages.ts (read its comment for why), for the scripts
// that start Node processes themselves (benchmarks, tests), so their children run as PruneScope's
// own would: loaded through tsx, so there is one copy of the tunables and of the probe.
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

register();
const shared = createRequire(import.meta.url)('../src/shared/large-pages.ts');

export const LARGE_PAGE_TUNABLES = [...shared.LARGE_PAGE_TUNABLES];

/** process.env with the tunables added where PruneScope would add them (Linux, fresh pages slow or PRUNESCOPE_LARGE_PAGES=1). */
export function largePageEnv(env = process.env) {
  return shared.withLargePages(env);
}
