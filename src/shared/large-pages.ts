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
 * That is not so on every VM. On another kind (AMD EPYC, sessions 12-14), fresh 4 KB pages cost
 * 0.75-0.81 ms per MB and huge pages 0.1-4 ms per MB, slowest on memory the guest had not used
 * lately; there the tunables made `prunescope compare` 14% and the streamed 60,000-row CKA 12%
 * slower. So unless PRUNESCOPE_LARGE_PAGES says (1 on, 0 off), a process about to start a
 * worker or relaunch the CLI first times what fresh 4 KB pages cost (`freshPageMsPerMB`, 4-9 ms
 * once) and uses the tunables only where that is slow.
 *
 * glibc reads tunables only when a process starts, so they go into the environment of the
 * processes PruneScope starts (the worker, the relaunched CLI); musl and other systems ignore
 * them. A GLIBC_TUNABLES the user set is kept, and these are added only for tunables it does not
 * set.
 */
export const LARGE_PAGE_TUNABLES = ['glibc.malloc.hugetlb=1', 'glibc.malloc.mmap_threshold=33554432'] as const;

/** True when a process started with `env` would run with the large-page tunables. */
export function hasLargePages(env: NodeJS.ProcessEnv): boolean {
  const set = (env.GLIBC_TUNABLES ?? '').split(':');
  return LARGE_PAGE_TUNABLES.every((t) => set.includes(t));
}

/**
 * Fresh 4 KB pages slower than this (ms per MB) make the tunables pay: 3.5-4.6 where they
 * saved seconds a job, 0.75-0.81 where they cost 11-14% (see the file comment).
 */
export const SLOW_FRESH_PAGES_MS_PER_MB = 2;

/** Above glibc's largest mmap threshold (32 MB), so the probe's buffer is always fresh pages. */
const PROBE_BYTES = 34 * 2 ** 20;
/** Every 8th page of it: 1,088 page faults in all, ~4 ms where faults are quick. */
const PROBE_STRIDE = 8 * 4096;
/** Timed in this many parts, the fastest kept: one interruption (another process, a timer) does not decide. */
const PROBE_PARTS = 4;

let probed: number | undefined;

/**
 * What first touching fresh memory costs this process, in ms per MB of 4 KB pages; measured once
 * (in a process without the tunables, where malloc asks for no huge pages). Here the whole
 * probe read 0.74-1.76 ms per MB over ten starts, its fastest part 0.57-0.94.
 */
export function freshPageMsPerMB(): number {
  if (probed !== undefined) return probed;
  const buffer = new Uint8Array(PROBE_BYTES);
  const part = PROBE_BYTES / PROBE_PARTS;
  let fastest = Infinity;
  for (let p = 0; p < PROBE_PARTS; p++) {
    const started = performance.now();
    for (let i = p * part; i < (p + 1) * part; i += PROBE_STRIDE) buffer[i] = 1;
    fastest = Math.min(fastest, performance.now() - started);
  }
  probed = fastest / ((Math.ceil(part / PROBE_STRIDE) * 4096) / 2 ** 20);
  return probed;
}

/**
 * Whether processes on this platform should be started with the tunables: PRUNESCOPE_LARGE_PAGES
 * 1 or 0 when set, else whether fresh pages are slow here (`probe`).
 */
export function wantsLargePages(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
  probe: () => number = freshPageMsPerMB,
): boolean {
  if (platform !== 'linux' || env.PRUNESCOPE_LARGE_PAGES === '0') return false;
  return env.PRUNESCOPE_LARGE_PAGES === '1' || probe() > SLOW_FRESH_PAGES_MS_PER_MB;
}

/** Set in a process started with the tunables because fresh pages were slow: what they cost, ms per MB. */
const FRESH_PAGES_VAR = 'PRUNESCOPE_FRESH_PAGES_MS_PER_MB';

/** `env` with the tunables added (for a child process), or `env` itself where they do not apply. */
export function withLargePages(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
  probe: () => number = freshPageMsPerMB,
): NodeJS.ProcessEnv {
  if (hasLargePages(env) || !wantsLargePages(env, platform, probe)) return env;
  const own = (env.GLIBC_TUNABLES ?? '').split(':').filter((t) => t !== '');
  const named = new Set(own.map((t) => t.split('=')[0]));
  const added = LARGE_PAGE_TUNABLES.filter((t) => !named.has(t.split('=')[0]));
  if (added.length === 0) return env;
  const next: NodeJS.ProcessEnv = { ...env, GLIBC_TUNABLES: [...own, ...added].join(':') };
  // The figure that decided, for the started process's --verbose (it cannot measure it: its malloc now asks for huge pages).
  if (env.PRUNESCOPE_LARGE_PAGES !== '1') next[FRESH_PAGES_VAR] = probe().toFixed(2);
  return next;
}

/** Whether this process runs with the tunables, and why, for --verbose; undefined off Linux. */
export function largePagesNote(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform !== 'linux') return undefined;
  if (hasLargePages(env)) {
    const why = env[FRESH_PAGES_VAR]
      ? `fresh 4 KB pages cost ${env[FRESH_PAGES_VAR]} ms per MB here, over ${SLOW_FRESH_PAGES_MS_PER_MB}; `
      : '';
    return `on (${why}GLIBC_TUNABLES=${env.GLIBC_TUNABLES})`;
  }
  if (env.PRUNESCOPE_LARGE_PAGES === '0') return 'off (PRUNESCOPE_LARGE_PAGES=0)';
  if (env.GLIBC_TUNABLES) return `off (GLIBC_TUNABLES=${env.GLIBC_TUNABLES} sets them otherwise)`;
  if (env.PRUNESCOPE_LARGE_PAGES === '1') return 'off in this process, on in the ones it starts (PRUNESCOPE_LARGE_PAGES=1)';
  const cost = `fresh 4 KB pages cost ${freshPageMsPerMB().toFixed(2)} ms per MB here`;
  return wantsLargePages(env, platform)
    ? `off in this process, on in the ones it starts (${cost})`
    : `off (${cost}, not over ${SLOW_FRESH_PAGES_MS_PER_MB}; PRUNESCOPE_LARGE_PAGES=1 turns them on)`;
}
