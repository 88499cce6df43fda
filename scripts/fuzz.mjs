// Fuzzes every reader (model formats, datasets, .npy inputs, results files) with seeded mutations
// of seed files (models built by test/kits/encode, plus the third-party files of ../shared/fixtures
// when present): node scripts/fuzz.mjs [--cases N] [--seed S] [--format f[,g]]
//   [--hostile-share X] [--classes nesting,links,sizes,bombs] [--timeout MS] [--max-rss MB]  (--help)
// Default 10,000 cases per format, every 8th one hostile (test/fuzz/hostile.ts). Writes
// bench-results/fuzz.json; exits 1 on any crash, hang, case over the memory ceiling, error that
// does not name its file, link out of a model's folder followed, or seed file changed.
// See docs/reliability.md.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/fuzz/cli.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
