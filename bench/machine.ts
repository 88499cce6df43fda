import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { hasLargePages } from '../src/shared/large-pages';

/** The vector extensions behind the matrix kernels' speed, in the order they matter. */
const VECTOR_FLAGS = ['avx512f', 'avx512_vnni', 'avx2', 'fma', 'avx', 'sse4_2', 'neon', 'asimd'];

/**
 * What a benchmark's figures depend on beyond the code: core count, CPU model and, on Linux, its
 * vector extensions. Machines of one kind can differ here: onnxruntime's float32 products ran at
 * 129-166 GMAC/s on an AVX-512 VM and 58-73 on an AVX2-only AMD EPYC (docs/benchmarks.md).
 * `largePages`: whether this process runs with glibc's huge-page tunables (scripts/bench.mjs
 * decides as PruneScope does); on some VMs they move a sweep by a second or two either way.
 */
export function machine(): { cpus: number; cpu: string; vectorExtensions: string[] | null; node: string; largePages: boolean } {
  return {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    vectorExtensions: vectorExtensions(),
    node: process.version,
    largePages: hasLargePages(process.env),
  };
}

/** The extensions of VECTOR_FLAGS that /proc/cpuinfo lists; null where it cannot be read. */
function vectorExtensions(): string[] | null {
  let text: string;
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
  if (!line) return null;
  const flags = new Set(line.split(':')[1].trim().split(/\s+/));
  return VECTOR_FLAGS.filter((f) => flags.has(f));
}

/** One summary row naming the CPU and its widest vector extensions, for reading a run's figures. */
export function machineRow(): { metric: string; value: string; unit?: string } {
  const m = machine();
  const ext = m.vectorExtensions ? m.vectorExtensions.join(' ') || 'none listed' : 'unknown';
  return { metric: 'CPU (vector extensions)', value: `${m.cpus} x ${m.cpu} (${ext})${m.largePages ? ', large pages' : ''}` };
}
