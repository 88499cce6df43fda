// The glibc tunables of src/shared/large-pages.ts (read its comment for why), for the scripts
// that start Node processes themselves (benchmarks, tests). src/shared/large-pages.test.ts checks
// the two lists are the same.
export const LARGE_PAGE_TUNABLES = ['glibc.malloc.hugetlb=1', 'glibc.malloc.mmap_threshold=33554432'];

/** process.env with the tunables added on Linux, unless PRUNESCOPE_LARGE_PAGES=0 or already set. */
export function largePageEnv(env = process.env) {
  if (process.platform !== 'linux' || env.PRUNESCOPE_LARGE_PAGES === '0') return env;
  const own = (env.GLIBC_TUNABLES ?? '').split(':').filter((t) => t !== '');
  const named = new Set(own.map((t) => t.split('=')[0]));
  const added = LARGE_PAGE_TUNABLES.filter((t) => !named.has(t.split('=')[0]));
  return added.length ? { ...env, GLIBC_TUNABLES: [...own, ...added].join(':') } : env;
}
