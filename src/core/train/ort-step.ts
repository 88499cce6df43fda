import type { Dataset } from '../data/dataset';
import { onnxRuntime, OrtSession } from '../engine/onnxruntime';
import { adamAlpha } from './adam';
import { evalModel, type StepGraphSpec, trainStepModel } from './ort-graph';
import { countCorrect, initialParams, type Stepper, type StepperSetup } from './stepper';

type Buffers = Record<string, Float32Array>;

/** Rows per validation run. */
const EVAL_ROWS = 1024;

/**
 * Training steps on onnxruntime (issue 15): one session run per batch does the forward pass,
 * the backward pass and Adam (ort-graph.ts). Parameters and moments live in two sets of JS
 * buffers: a step reads one set and writes the other in place (no allocation per step), then
 * the two swap. Totals are summed in float64 here.
 */
export class OrtStepper implements Stepper {
  readonly engine = 'onnxruntime';
  private readonly train: OrtSession;
  private readonly evaluate: OrtSession;
  /** Parameter names in flat order (w0, b0, w1, ...). */
  private readonly names: string[];
  private readonly dims: Record<string, number[]>;
  private current: Buffers = {};
  private spare: Buffers = {};
  private readonly fixed: Buffers = {};
  private readonly classes: number;
  private oneHot = new Float32Array(0);
  private t = 0;
  private lossSum = 0;
  private correct = 0;

  constructor(private readonly setup: StepperSetup) {
    const { mlp, masks } = setup;
    ({ train: this.train, evaluate: this.evaluate } = sessionsFor(graphSpec(setup)));
    this.names = mlp.layers.flatMap((l, i) => (l.bias ? [`w${i}`, `b${i}`] : [`w${i}`]));
    this.dims = {};
    mlp.layers.forEach((l, i) => {
      for (const prefix of ['', 'm', 'v', 'pm']) this.dims[`${prefix}w${i}`] = [l.inputSize, l.units];
      for (const prefix of ['', 'm', 'v']) if (l.bias) this.dims[`${prefix}b${i}`] = [l.units];
      if (masks[i]) this.fixed[`pmw${i}`] = masks[i]!;
    });
    const start = initialParams(mlp, masks);
    this.names.forEach((name, k) => {
      for (const [prefix, value] of [
        ['', start[k]],
        ['m', new Float32Array(start[k].length)],
        ['v', new Float32Array(start[k].length)],
      ] as const) {
        this.current[prefix + name] = value;
        this.spare[prefix + name] = new Float32Array(value.length);
      }
    });
    this.classes = mlp.layers[mlp.layers.length - 1].units;
  }

  private feed(name: string, data: Float32Array): { data: Float32Array; dims: number[] } {
    return { data, dims: this.dims[name] };
  }

  /** x and one-hot y of a batch, as feeds. */
  private batchFeeds(x: Float32Array, labels: Int32Array, rows: number) {
    const f = this.setup.mlp.inputSize;
    if (this.oneHot.length < rows * this.classes) this.oneHot = new Float32Array(rows * this.classes);
    const y = this.oneHot.subarray(0, rows * this.classes).fill(0);
    for (let r = 0; r < rows; r++) y[r * this.classes + labels[r]] = 1;
    return { x: { data: x.subarray(0, rows * f), dims: [rows, f] }, y: { data: y, dims: [rows, this.classes] } };
  }

  step(x: Float32Array, labels: Int32Array, rows: number, dropout: (Float32Array | null)[]): void {
    this.t++;
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = {
      ...this.batchFeeds(x, labels, rows),
      inv: { data: Float32Array.of(1 / rows), dims: [1] },
      alpha: { data: Float32Array.of(adamAlpha(this.setup.adam, this.t)), dims: [1] },
    };
    for (const [name, data] of Object.entries({ ...this.current, ...this.fixed })) feeds[name] = this.feed(name, data);
    dropout.forEach((m, l) => {
      const units = this.setup.mlp.layers[l].units;
      if (m) feeds[`d${l}`] = { data: m.subarray(0, rows * units), dims: [rows, units] };
    });
    const into: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const [name, data] of Object.entries(this.spare)) into[`${name}_next`] = this.feed(name, data);
    const out = this.train.run(feeds, into);
    [this.current, this.spare] = [this.spare, this.current];
    this.lossSum += out.loss.data[0];
    this.correct += countCorrect(out.logits.data, labels, rows, this.classes);
  }

  takeTotals(): [number, number] {
    const totals: [number, number] = [this.lossSum, this.correct];
    this.lossSum = 0;
    this.correct = 0;
    return totals;
  }

  validate(data: Dataset, y: Int32Array): { loss: number; accuracy: number } {
    const { n, features } = data;
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < n; start += EVAL_ROWS) {
      const rows = Math.min(n, start + EVAL_ROWS) - start;
      const labels = y.subarray(start, start + rows);
      const feeds: Record<string, { data: Float32Array; dims: number[] }> = this.batchFeeds(
        data.x.subarray(start * features, (start + rows) * features),
        labels,
        rows,
      );
      for (const name of this.names) feeds[name] = this.feed(name, this.current[name]);
      const out = this.evaluate.run(feeds);
      lossSum += out.loss.data[0];
      correct += countCorrect(out.logits.data, labels, rows, this.classes);
    }
    return { loss: lossSum / n, accuracy: correct / n };
  }

  params(): Float32Array[] {
    return this.names.map((name) => new Float32Array(this.current[name]));
  }

  dispose(): void {
    // The sessions stay cached for the next run of the same shape (see sessionsFor).
  }
}

/**
 * The last graph's sessions, kept for the next run of the same spec: iterative pruning retrains
 * the same architecture many times, and a session's first runs page-fault its arena in (~1 s of
 * the first ten steps of the challenge network here). One entry, so at most one set is held.
 */
let cachedSessions: { key: string; train: OrtSession; evaluate: OrtSession } | undefined;

function sessionsFor(spec: StepGraphSpec): { train: OrtSession; evaluate: OrtSession } {
  const key = JSON.stringify(spec);
  if (cachedSessions?.key === key) return cachedSessions;
  cachedSessions?.train.dispose();
  cachedSessions?.evaluate.dispose();
  const ort = onnxRuntime();
  if (!ort) throw new Error('onnxruntime training asked for after onnxruntime-node failed to load');
  cachedSessions = {
    key,
    train: new OrtSession(ort, trainStepModel(spec), trainOutputs(spec)),
    evaluate: new OrtSession(ort, evalModel(spec), ['logits', 'loss']),
  };
  return cachedSessions;
}

function graphSpec(setup: StepperSetup): StepGraphSpec {
  const { mlp, specs, masks, adam, l1, l2 } = setup;
  return {
    inputSize: mlp.inputSize,
    units: mlp.layers.map((l) => l.units),
    specs,
    hasBias: mlp.layers.map((l) => !!l.bias),
    masked: masks.map((m) => m !== null),
    beta1: adam.beta1,
    beta2: adam.beta2,
    epsilon: adam.epsilon,
    l1,
    l2,
  };
}

/** The step graph's outputs: logits, loss, then every parameter's and moment's next value. */
function trainOutputs(spec: StepGraphSpec): string[] {
  const names = spec.units.flatMap((_, l) => (spec.hasBias[l] ? [`w${l}`, `b${l}`] : [`w${l}`]));
  return ['logits', 'loss', ...names.flatMap((p) => [`${p}_next`, `m${p}_next`, `v${p}_next`])];
}
