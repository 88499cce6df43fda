/**
 * Large pages for PruneScope's processes (Linux with glibc).
 *
 * Every big buffer (activations, Gram and cross-product accumulators, onnxruntime's arena) is
 * touched for the first time when it is filled, one 4 KB page fault at a time. On the 2-core
 * VMs this project runs on, that first touch cost 3.5-4.5 ms per MB in Node (a 100 MB
 * Float64Array took ~450 ms to fill once, 6 ms the second time): a one-shot CLI job spent up
 * to a third of its time in page faults. NumPy does not pay it, because it asks for transparent
 * huge pages on large arrays. These glibc tunables do the same for Node: malloc marks its memory
 * MADV_HUGEPAGE, and blocks of 32 MB or more get their own mapping, returned to the system when
 * freed. Measured here: 0.07-0.2 ms per MB, with the same resident memory after frees.
 *
 * glibc reads tunables only when a process starts, so they go into the environment of the
 * processes PruneScope starts (the worker, the relaunched CLI); musl and other systems ignore
 * them. PRUNESCOPE_LARGE_PAGES=0 turns this off; a GLIBC_TUNABLES the user set is kept, and
 * these are added only for tunables it does not set.
 */
export const LARGE_PAGE_TUNABLES = ['glibc.malloc.hugetlb=1', 'glibc.malloc.mmap_threshold=33554432'] as const;

/** True when a process started with `env` would run with the large-page tunables. */
export function hasLargePages(env: NodeJS.ProcessEnv): boolean {
  const set = (env.GLIBC_TUNABLES ?? '').split(':');
  return LARGE_PAGE_TUNABLES.every((t) => set.includes(t));
}

/** Whether processes on this platform should be started with the tunables. */
export function wantsLargePages(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'linux' && env.PRUNESCOPE_LARGE_PAGES !== '0';
}

/** `env` with the tunables added (for a child process), or `env` itself where they do not apply. */
export function withLargePages(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv {
  if (!wantsLargePages(env, platform) || hasLargePages(env)) return env;
  const own = (env.GLIBC_TUNABLES ?? '').split(':').filter((t) => t !== '');
  const named = new Set(own.map((t) => t.split('=')[0]));
  const added = LARGE_PAGE_TUNABLES.filter((t) => !named.has(t.split('=')[0]));
  if (added.length === 0) return env;
  return { ...env, GLIBC_TUNABLES: [...own, ...added].join(':') };
}
