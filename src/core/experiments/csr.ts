import type { Activation, MLP } from '../model/mlp';
import { WASM_BASE64 } from './csr-kernel.wasm';

/**
 * The sparse product the CSR latency times (latency.ts): each layer's kept weights in compressed
 * sparse row form, multiplied by a batch with a WebAssembly SIMD kernel (csr-kernel.wat) on one
 * thread. The layers are placed in the kernel's memory once (`placeCsr`, not timed), and each
 * `run` is one forward pass: the batch goes in feature-major, every layer's product and
 * activation, and the outputs come back sample-major.
 */

/** What the results file records as the kernel that timed the CSR latency (results/format.ts `backend`). */
export const CSR_KERNEL = 'wasm-simd128';

/** A layer's weights in compressed sparse row form over the transposed kernel: row j = unit j's inputs. */
export interface CsrLayer {
  units: number;
  inputSize: number;
  rowPtr: Int32Array;
  cols: Int32Array;
  values: Float32Array;
  bias: Float32Array | null;
  activation: Activation;
  alpha: number;
}

export function toCsr(mlp: MLP): CsrLayer[] {
  return mlp.layers.map((l) => {
    // Two row-major passes over the [in, units] kernel (count per unit, then fill), so the
    // weights are read in memory order; each unit's inputs come out in ascending order.
    const rowPtr = new Int32Array(l.units + 1);
    for (let i = 0; i < l.inputSize; i++) {
      const o = i * l.units;
      for (let j = 0; j < l.units; j++) if (l.weights[o + j] !== 0) rowPtr[j + 1]++;
    }
    for (let j = 0; j < l.units; j++) rowPtr[j + 1] += rowPtr[j];
    const nnz = rowPtr[l.units];
    const cols = new Int32Array(nnz);
    const values = new Float32Array(nnz);
    const next = rowPtr.slice(0, l.units);
    for (let i = 0; i < l.inputSize; i++) {
      const o = i * l.units;
      for (let j = 0; j < l.units; j++) {
        const w = l.weights[o + j];
        if (w !== 0) {
          cols[next[j]] = i;
          values[next[j]++] = w;
        }
      }
    }
    return { units: l.units, inputSize: l.inputSize, rowPtr, cols, values, bias: l.bias, activation: l.activation, alpha: l.alpha ?? 0.01 };
  });
}

function activateRow(row: Float32Array, activation: Activation, alpha: number): void {
  switch (activation) {
    case 'linear':
      return;
    case 'relu':
      for (let i = 0; i < row.length; i++) if (row[i] < 0) row[i] = 0;
      return;
    case 'relu6':
      for (let i = 0; i < row.length; i++) row[i] = Math.min(6, Math.max(0, row[i]));
      return;
    case 'leaky_relu':
      for (let i = 0; i < row.length; i++) if (row[i] < 0) row[i] *= alpha;
      return;
    case 'sigmoid':
      for (let i = 0; i < row.length; i++) row[i] = 1 / (1 + Math.exp(-row[i]));
      return;
    case 'tanh':
      for (let i = 0; i < row.length; i++) row[i] = Math.tanh(row[i]);
      return;
    case 'softmax':
    case 'log_softmax': {
      let max = -Infinity;
      for (const v of row) if (v > max) max = v;
      let sum = 0;
      for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
      const logSum = Math.log(sum) + max;
      for (let i = 0; i < row.length; i++) row[i] = activation === 'softmax' ? Math.exp(row[i] - logSum) : row[i] - logSum;
      return;
    }
  }
}

type KernelFn = (units: number, rows: number, rowPtr: number, cols: number, values: number, bias: number, h: number, out: number) => void;

/** The parts of the WebAssembly API used here (the project's lib settings carry no WebAssembly types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | undefined;

/** The kernel's module, compiled on first use (806 bytes: ~1 ms). */
function kernelModule(): object {
  compiled ??= new wasm.Module(Buffer.from(WASM_BASE64, 'base64'));
  return compiled;
}

const PAGE = 65536;
/** wasm32 memory ends at 4 GiB. */
const MAX_PAGES = 65536;

/** Byte offsets of one layer's arrays in the kernel's memory (bias 0: none). */
interface Placed {
  layer: CsrLayer;
  rowPtr: number;
  cols: number;
  values: number;
  bias: number;
}

/** CSR layers placed in a kernel instance of their own, ready to run batches of `rows` samples. */
export interface CsrProgram {
  /** One forward pass of `rows` samples (row-major [rows, inputSize]); returns [rows, outputs]. */
  run(x: Float32Array): Float32Array;
}

/**
 * The layers copied into a fresh kernel instance whose memory holds them and two activation
 * buffers of `rows` samples; null when that is over wasm32's 4 GiB (hundreds of millions of kept
 * weights). One instance per placement, so its memory goes when the program does.
 */
export function placeCsr(layers: CsrLayer[], rows: number): CsrProgram | null {
  let end = 0;
  const take = (bytes: number) => {
    const at = end;
    end += Math.ceil(bytes / 16) * 16;
    return at;
  };
  // Offset 0 stays unused, so a bias offset of 0 can mean "no bias".
  take(16);
  const placed: Placed[] = layers.map((l) => ({
    layer: l,
    rowPtr: take(4 * (l.units + 1)),
    cols: take(4 * l.values.length),
    values: take(4 * l.values.length),
    bias: l.bias ? take(4 * l.units) : 0,
  }));
  const widest = Math.max(layers[0]?.inputSize ?? 0, ...layers.map((l) => l.units));
  const buffers = [take(4 * widest * rows), take(4 * widest * rows)];
  const pages = Math.ceil(end / PAGE);
  const memory = pages <= MAX_PAGES ? newMemory(pages) : null;
  if (!memory) return null;
  const kernel = new wasm.Instance(kernelModule(), { env: { memory } }).exports.csrLayer as KernelFn;
  for (const p of placed) copyLayer(memory.buffer, p);
  return { run: (x) => runPlaced(memory.buffer, kernel, placed, buffers, x, rows) };
}

/** A memory of `pages` pages, or null when the process cannot have that much. */
function newMemory(pages: number): { buffer: ArrayBuffer } | null {
  try {
    return new wasm.Memory({ initial: pages });
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
}

function copyLayer(buffer: ArrayBuffer, p: Placed): void {
  const l = p.layer;
  new Int32Array(buffer, p.rowPtr, l.units + 1).set(l.rowPtr);
  new Int32Array(buffer, p.cols, l.cols.length).set(l.cols);
  new Float32Array(buffer, p.values, l.values.length).set(l.values);
  if (l.bias) new Float32Array(buffer, p.bias, l.units).set(l.bias);
}

/** y = act(x W + b) for every placed layer; activations stay feature-major ([features][rows]) between layers. */
function runPlaced(
  buffer: ArrayBuffer,
  kernel: KernelFn,
  placed: Placed[],
  buffers: number[],
  x: Float32Array,
  rows: number,
): Float32Array {
  const inSize = placed[0]?.layer.inputSize ?? 0;
  let [src, dst] = buffers;
  const h = new Float32Array(buffer, src, inSize * rows);
  for (let r = 0; r < rows; r++) for (let i = 0; i < inSize; i++) h[i * rows + r] = x[r * inSize + i];
  for (const p of placed) {
    const l = p.layer;
    kernel(l.units, rows, p.rowPtr, p.cols, p.values, p.bias, src, dst);
    activateFeatureMajor(new Float32Array(buffer, dst, l.units * rows), l, rows);
    [src, dst] = [dst, src];
  }
  const units = placed[placed.length - 1]?.layer.units ?? 0;
  const last = new Float32Array(buffer, src, units * rows);
  const y = new Float32Array(rows * units);
  for (let j = 0; j < units; j++) for (let r = 0; r < rows; r++) y[r * units + j] = last[j * rows + r];
  return y;
}

/** A layer's activation on its feature-major outputs; softmax-like ones are normalised per sample. */
function activateFeatureMajor(h: Float32Array, l: CsrLayer, rows: number): void {
  if (l.activation !== 'softmax' && l.activation !== 'log_softmax') {
    activateRow(h, l.activation, l.alpha);
    return;
  }
  const row = new Float32Array(l.units);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < l.units; j++) row[j] = h[j * rows + r];
    activateRow(row, l.activation, l.alpha);
    for (let j = 0; j < l.units; j++) h[j * rows + r] = row[j];
  }
}
