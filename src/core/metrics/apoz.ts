import type { Activation } from '../model/mlp';
import { type Matrix, SimilarityError } from './matrix';

/**
 * Average Percentage of Zeros (Hu et al. 2016, "Network Trimming"): for each unit, the share
 * of samples on which its post-activation output is exactly zero. Meaningful only where the
 * activation produces exact zeros on a whole half-line of inputs (relu, relu6).
 */

export interface Histogram {
  /** bins + 1 edges over [0, 1]; bin b holds values in [edges[b], edges[b+1]), the last also 1. */
  edges: number[];
  counts: number[];
}

export type ApozResult =
  | {
      applies: true;
      /** Share of zero outputs per unit, in [0, 1]. */
      perNeuron: Float64Array;
      /** Mean over units. */
      mean: number;
      samples: number;
      histogram: Histogram;
    }
  | { applies: false; reason: string };

export const DEFAULT_APOZ_BINS = 20;

const ZERO_ACTIVATIONS: readonly Activation[] = ['relu', 'relu6'];

/** Whether APoZ means something after this activation, and why not if it does not. */
export function apozApplies(activation: Activation): { applies: true } | { applies: false; reason: string } {
  if (ZERO_ACTIVATIONS.includes(activation)) return { applies: true };
  const why: Record<string, string> = {
    leaky_relu: 'leaky_relu maps negative inputs to alpha * x, not to exactly zero',
    linear: 'a linear output is exactly zero only by coincidence',
    sigmoid: 'sigmoid outputs are never exactly zero (only underflow makes them so)',
    tanh: 'tanh is exactly zero only at input 0',
    softmax: 'softmax outputs are never exactly zero (only underflow makes them so)',
    log_softmax: 'log_softmax outputs are exactly zero only for a certain class',
  };
  return {
    applies: false,
    reason: `APoZ counts exact zeros after a ReLU-like activation (relu, relu6); ${why[activation] ?? `${activation} is not ReLU-like`}`,
  };
}

function checkBins(bins: number): void {
  if (!Number.isInteger(bins) || bins < 1) throw new SimilarityError(`APoZ histogram needs a positive whole number of bins, got ${bins}`);
}

export function histogram(values: ArrayLike<number>, bins = DEFAULT_APOZ_BINS): Histogram {
  checkBins(bins);
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    counts[Math.min(bins - 1, Math.max(0, Math.floor(v * bins)))]++;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, b) => b / bins), counts };
}

/**
 * Counts exact zeros per unit over batches of post-activation outputs, so APoZ over a whole
 * dataset needs one batch in memory at a time.
 */
export class ApozCounter {
  private readonly zeros: Float64Array;
  private samples = 0;
  private readonly check: ReturnType<typeof apozApplies>;

  constructor(
    readonly units: number,
    readonly activation: Activation,
  ) {
    if (!Number.isInteger(units) || units < 1) throw new SimilarityError(`APoZ needs at least one unit, got ${units}`);
    this.zeros = new Float64Array(units);
    this.check = apozApplies(activation);
  }

  add(batch: Matrix): void {
    if (batch.cols !== this.units) {
      throw new SimilarityError(`APoZ: batch has ${batch.cols} units, expected ${this.units}`);
    }
    if (!this.check.applies) return;
    const { rows, cols, data } = batch;
    // Counting non-zeros without a branch: about half of ReLU outputs are zero, at random, and
    // a branch on each mispredicted often enough to make this loop 4x slower.
    const nonzero = new Int32Array(cols);
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      for (let j = 0; j < cols; j++) nonzero[j] += ((data[o + j] !== 0) as unknown as number) | 0;
    }
    const z = this.zeros;
    for (let j = 0; j < cols; j++) z[j] += rows - nonzero[j];
    this.samples += rows;
  }

  result(bins = DEFAULT_APOZ_BINS): ApozResult {
    if (!this.check.applies) return this.check;
    checkBins(bins);
    if (this.samples === 0) throw new SimilarityError('APoZ: no samples were given');
    const n = this.samples;
    const perNeuron = Float64Array.from(this.zeros, (z) => z / n);
    let sum = 0;
    for (const v of perNeuron) sum += v;
    // Bin from the integer counts so a share that lands on an edge is not moved by rounding.
    const counts = new Array<number>(bins).fill(0);
    for (const z of this.zeros) counts[Math.min(bins - 1, Math.floor((z * bins) / n))]++;
    return {
      applies: true,
      perNeuron,
      mean: sum / perNeuron.length,
      samples: n,
      histogram: { edges: Array.from({ length: bins + 1 }, (_, b) => b / bins), counts },
    };
  }
}

/** APoZ of one layer's post-activation outputs (rows = samples, cols = units). */
export function apoz(activations: Matrix, activation: Activation, options: { bins?: number } = {}): ApozResult {
  const counter = new ApozCounter(activations.cols, activation);
  counter.add(activations);
  return counter.result(options.bins ?? DEFAULT_APOZ_BINS);
}
