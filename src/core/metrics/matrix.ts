import { PruneScopeError } from '../errors';
import { allFinite } from '../model/count';

/** A dense row-major matrix of activations: `rows` samples by `cols` features. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array | Float64Array;
}

/** A similarity or pruning statistic that cannot be computed for the given input. */
export class SimilarityError extends PruneScopeError {
  override name = 'SimilarityError';
}

/** Wraps row-major data as a Matrix, checking that the sizes agree. */
export function matrix(data: Float32Array | Float64Array, rows: number, cols: number): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new SimilarityError(`matrix shape must be two non-negative integers, got ${rows} x ${cols}`);
  }
  if (data.length !== rows * cols) {
    throw new SimilarityError(`matrix of ${rows} x ${cols} needs ${rows * cols} values, got ${data.length}`);
  }
  return { rows, cols, data };
}

/** Names used in messages, e.g. "layer dense_1 of model A". */
export interface MatrixNames {
  x?: string;
  y?: string;
}

/** Throws unless m has at least `minRows` rows, at least one column and only finite values. */
export function checkMatrix(m: Matrix, name: string, minRows = 2): void {
  checkShape(m, name, minRows);
  checkFinite(m, name);
}

/** Throws unless m's values fill its shape, with at least `minRows` rows and one column. */
export function checkShape(m: Matrix, name: string, minRows = 2): void {
  if (m.data.length !== m.rows * m.cols) {
    throw new SimilarityError(`${name}: ${m.rows} x ${m.cols} matrix holds ${m.data.length} values`);
  }
  if (m.cols < 1) throw new SimilarityError(`${name} has no features (0 columns)`);
  if (m.rows < minRows) throw new SimilarityError(`${name} has ${m.rows} samples; at least ${minRows} are needed`);
}

/** Throws, naming the first one, if m holds a value that is not finite. */
export function checkFinite(m: Matrix, name: string): void {
  if (allFinite(m.data)) return;
  const d = m.data;
  for (let i = 0; i < d.length; i++) {
    if (!(d[i] - d[i] === 0)) {
      const r = Math.floor(i / m.cols);
      throw new SimilarityError(`${name} holds a non-finite value (${d[i]}) at sample ${r}, feature ${i - r * m.cols}`);
    }
  }
}

/** Throws unless x and y describe the same samples. */
export function checkPair(x: Matrix, y: Matrix, names: MatrixNames = {}, minRows = 2): void {
  const nx = names.x ?? 'X';
  const ny = names.y ?? 'Y';
  if (x.rows !== y.rows) {
    throw new SimilarityError(`${nx} has ${x.rows} samples but ${ny} has ${y.rows}; similarity needs the activations of the same samples`);
  }
  checkMatrix(x, nx, minRows);
  checkMatrix(y, ny, minRows);
}

/**
 * A power of two that brings values of magnitude up to `max` into [0.5, 1] (1 for max = 0).
 * Multiplying by it is exact, and keeps squares of squares within float64 (and products
 * within float32) whatever the scale of the activations.
 */
export function powerOfTwoScale(max: number): number {
  const e = max > 0 ? Math.ceil(Math.log2(max)) : 0;
  return Math.pow(2, -Math.max(-1000, Math.min(1000, e)));
}

/** Column means in float64. */
export function columnMeans(m: Matrix): Float64Array {
  const { rows, cols, data } = m;
  const mean = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) mean[j] += data[o + j];
  }
  for (let j = 0; j < cols; j++) mean[j] /= rows;
  return mean;
}

/** A float64 copy with column means removed (two-pass, so the result is centred to rounding). */
export function centered(m: Matrix): Float64Array {
  const { rows, cols, data } = m;
  const mean = columnMeans(m);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) out[o + j] = data[o + j] - mean[j];
  }
  // The second pass removes the rounding left by the first one.
  const rest = columnMeans({ rows, cols, data: out });
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) out[o + j] -= rest[j];
  }
  return out;
}
