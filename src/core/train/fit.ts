import * as tf from '@tensorflow/tfjs';
import { backendInfo, initBackend, type BackendInfo } from '../backend';
import type { Dataset, DatasetSplits } from '../data/dataset';
import { sliceRows } from '../data/dataset';
import { checkFits } from '../data/load';
import { CancelledError, DataError, PruneScopeError } from '../errors';
import type { DenseLayer, MLP } from '../model/mlp';
import { outputSize, validateMLP } from '../model/mlp';
import { Adam, KERAS_ADAM } from './adam';
import { batchMetrics, checkTrainable, lossAndGradients, logits, type Gradients, type LayerSpec, type Params } from './backprop';
import { glorotUniform, Rng } from './rng';

export interface EpochMetrics {
  /** 1-based. */
  epoch: number;
  /** The most epochs this run may take. */
  epochs: number;
  /** Mean training cross-entropy over the epoch's batches (with dropout active, as Keras reports it). */
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  /** Wall time of the epoch, validation included. */
  seconds: number;
  /** Training samples per second of the epoch's training phase (validation excluded). */
  samplesPerSecond: number;
}

export interface FitOptions {
  /** Most epochs (default 50). */
  epochs?: number;
  /** Default 512. */
  batchSize?: number;
  /** Adam, defaults as Keras: 1e-3, 0.9, 0.999, 1e-7. */
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Epochs without a lower validation loss before stopping (default 3). */
  patience?: number;
  /**
   * L2 penalty on every kernel, as Keras' kernel_regularizer=l2(l2): adds l2 * sum(w^2) to the
   * objective (2 * l2 * w to each kernel gradient). Default 0. Reported losses stay the
   * cross-entropy alone so that runs with and without it compare.
   */
  l2?: number;
  /**
   * L1 penalty on every kernel (Keras' l1): adds l1 * sum(|w|) to the objective (l1 * sign(w) to
   * each kernel gradient), which drives unneeded weights to zero. Default 0.
   */
  l1?: number;
  /** Seeds shuffling and dropout (and initialisation in trainMLP). Default 1. */
  seed?: number;
  /**
   * Share of the training rows held out (the last ones, as Keras' validation_split) when the
   * data has no validation split. Default 0.1.
   */
  validationSplit?: number;
  /** Shuffle the training rows every epoch (default true); false keeps the rows' order, as benchmarks want. */
  shuffle?: boolean;
  /** Called after every epoch; training waits for a returned promise. */
  onEpoch?: (metrics: EpochMetrics) => void | Promise<void>;
  /** Checked between batches; aborting throws CancelledError. */
  signal?: AbortSignal;
  /**
   * Per layer, null or a [inputSize, units] 0/1 mask of the weights to keep; masked weights
   * are zeroed at the start and after every update, so pruned weights stay exactly 0.
   */
  masks?: (Float32Array | null)[] | null;
  /**
   * Share in (0, 1] of its batches the last epoch trains (at least one batch); default 1. The
   * gradual pruning schedule spreads fractional epochs of fine-tuning over its steps with it.
   */
  lastEpochShare?: number;
}

export interface TrainOptions extends FitOptions {
  /** Hidden layer sizes, e.g. [1000, 1000, 500, 200]. */
  hidden: number[];
  /** Dropout rate after every hidden layer, or one per hidden layer. Default 0. */
  dropout?: number | number[];
  /** Model name (default "mlp"). */
  name?: string;
}

/** The resolved settings of a run, as written to history.json. */
export interface ResolvedFitOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  patience: number;
  l2: number;
  l1: number;
  seed: number;
  validationSplit: number;
  shuffle: boolean;
  masked: boolean;
  /** Share of its batches the last epoch trained, when less than all (FitOptions.lastEpochShare). */
  lastEpochShare?: number;
  hidden?: number[];
  dropout?: number[];
}

export interface TrainingHistory {
  backend: BackendInfo;
  seed: number;
  options: ResolvedFitOptions;
  /** Model name and layer sizes, input first. */
  model: { name: string; sizes: number[] };
  trainSamples: number;
  validationSamples: number;
  /** Where the validation rows came from: the data's validation split or held-out training rows. */
  validationSource: string;
  epochs: EpochMetrics[];
  /** 1-based epoch whose weights were returned (lowest validation loss). */
  bestEpoch: number;
  bestValLoss: number;
  stoppedEarly: boolean;
  totalSeconds: number;
}

export interface FitResult {
  mlp: MLP;
  history: TrainingHistory;
}

const DEFAULTS = {
  epochs: 50,
  batchSize: 512,
  patience: 3,
  seed: 1,
  validationSplit: 0.1,
};

function resolveOptions(o: FitOptions): ResolvedFitOptions {
  const r: ResolvedFitOptions = {
    epochs: o.epochs ?? DEFAULTS.epochs,
    batchSize: o.batchSize ?? DEFAULTS.batchSize,
    learningRate: o.learningRate ?? KERAS_ADAM.learningRate,
    beta1: o.beta1 ?? KERAS_ADAM.beta1,
    beta2: o.beta2 ?? KERAS_ADAM.beta2,
    epsilon: o.epsilon ?? KERAS_ADAM.epsilon,
    patience: o.patience ?? DEFAULTS.patience,
    l2: o.l2 ?? 0,
    l1: o.l1 ?? 0,
    seed: o.seed ?? DEFAULTS.seed,
    validationSplit: o.validationSplit ?? DEFAULTS.validationSplit,
    shuffle: o.shuffle ?? true,
    masked: !!o.masks && o.masks.some((m) => m !== null),
  };
  const positiveInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new PruneScopeError(`${name} must be a positive integer (got ${v})`);
  };
  positiveInt('epochs', r.epochs);
  positiveInt('batch size', r.batchSize);
  if (!Number.isInteger(r.patience) || r.patience < 0) throw new PruneScopeError(`patience must be an integer >= 0 (got ${r.patience})`);
  if (!(r.l2 >= 0 && Number.isFinite(r.l2))) throw new PruneScopeError(`l2 must be a number >= 0 (got ${r.l2})`);
  if (!(r.l1 >= 0 && Number.isFinite(r.l1))) throw new PruneScopeError(`l1 must be a number >= 0 (got ${r.l1})`);
  if (!(r.learningRate > 0)) throw new PruneScopeError(`learning rate must be > 0 (got ${r.learningRate})`);
  if (!(r.validationSplit >= 0 && r.validationSplit < 1)) {
    throw new PruneScopeError(`validation split must be in [0, 1) (got ${r.validationSplit})`);
  }
  if (!Number.isFinite(r.seed)) throw new PruneScopeError(`seed must be a number (got ${r.seed})`);
  const share = o.lastEpochShare;
  if (share !== undefined) {
    if (!(share > 0 && share <= 1)) throw new PruneScopeError(`last epoch share must be in (0, 1] (got ${share})`);
    // Recorded only when given, so history.json of ordinary runs is unchanged.
    r.lastEpochShare = share;
  }
  return r;
}

function checkDataset(ds: Dataset, mlp: MLP, what: string): Int32Array {
  if (!ds.y) throw new DataError(ds.source, `the ${what} data has no labels`);
  if (ds.n === 0) throw new DataError(ds.source, `the ${what} data has no rows`);
  checkFits(ds, mlp.inputSize, outputSize(mlp), `model ${mlp.name}`, mlp.inputShape);
  return ds.y;
}

function splitData(data: DatasetSplits, validationSplit: number): { train: Dataset; validation: Dataset; source: string } {
  if (!data.train) throw new DataError(data.name, 'has no training split');
  if (data.validation) return { train: data.train, validation: data.validation, source: data.validation.source };
  const nVal = Math.floor(data.train.n * validationSplit);
  if (nVal === 0) {
    throw new DataError(data.name, 'has no validation split and validationSplit holds out no rows; early stopping needs validation data');
  }
  const nTrain = data.train.n - nVal;
  return {
    train: sliceRows(data.train, 0, nTrain),
    validation: sliceRows(data.train, nTrain, data.train.n, `${data.train.source} rows ${nTrain}-${data.train.n - 1}`),
    source: `last ${nVal} training rows (validationSplit ${validationSplit})`,
  };
}

function layerSpecs(mlp: MLP): LayerSpec[] {
  // dropout on the output layer would corrupt the logits; Keras places it after hidden layers only
  return mlp.layers.map((l, i) => ({
    activation: l.activation,
    alpha: l.alpha,
    dropout: i < mlp.layers.length - 1 ? (l.dropout ?? 0) : 0,
  }));
}

function checkMasks(mlp: MLP, masks: (Float32Array | null)[] | null | undefined): (Float32Array | null)[] {
  if (!masks) return mlp.layers.map(() => null);
  if (masks.length !== mlp.layers.length) {
    throw new PruneScopeError(`got ${masks.length} weight masks for model ${mlp.name} with ${mlp.layers.length} layers`);
  }
  masks.forEach((m, i) => {
    const l = mlp.layers[i];
    if (m && m.length !== l.weights.length) {
      throw new PruneScopeError(`weight mask ${i + 1} has ${m.length} entries; layer ${l.name} has ${l.inputSize}x${l.units} weights`);
    }
  });
  return masks;
}

/** Yields to the event loop so an AbortSignal (and anything else queued) can fire; wasm ops never do. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Flat list: kernel of layer 0, its bias (if any), kernel of layer 1, ... */
interface FlatParams {
  tensors: tf.Tensor[];
  kernelIndex: number[];
  biasIndex: (number | null)[];
}

function toParams(flat: FlatParams): Params {
  return {
    kernels: flat.kernelIndex.map((i) => flat.tensors[i] as tf.Tensor2D),
    biases: flat.biasIndex.map((i) => (i === null ? null : (flat.tensors[i] as tf.Tensor1D))),
  };
}

function uploadParams(mlp: MLP, masks: (Float32Array | null)[]): FlatParams {
  const tensors: tf.Tensor[] = [];
  const kernelIndex: number[] = [];
  const biasIndex: (number | null)[] = [];
  mlp.layers.forEach((l, i) => {
    let w = l.weights;
    const m = masks[i];
    if (m) {
      w = new Float32Array(w);
      for (let j = 0; j < w.length; j++) w[j] *= m[j];
    }
    kernelIndex.push(tensors.length);
    tensors.push(tf.tensor2d(w, [l.inputSize, l.units]));
    if (l.bias) {
      biasIndex.push(tensors.length);
      tensors.push(tf.tensor1d(l.bias));
    } else biasIndex.push(null);
  });
  return { tensors, kernelIndex, biasIndex };
}

function downloadParams(flat: FlatParams): Float32Array[] {
  return flat.tensors.map((t) => t.dataSync() as Float32Array).map((a) => new Float32Array(a));
}

function buildMLP(mlp: MLP, flat: FlatParams, values: Float32Array[], masks: (Float32Array | null)[]): MLP {
  // w * 0 is -0 for negative w; pruned weights are written as +0
  masks.forEach((m, i) => {
    if (!m) return;
    const w = values[flat.kernelIndex[i]];
    for (let j = 0; j < w.length; j++) if (m[j] === 0) w[j] = 0;
  });
  return {
    ...mlp,
    inputShape: [...mlp.inputShape],
    layers: mlp.layers.map((l, i): DenseLayer => ({
      ...l,
      weights: values[flat.kernelIndex[i]],
      bias: flat.biasIndex[i] === null ? null : values[flat.biasIndex[i]],
    })),
  };
}

/** float32 one-hot rows (the wasm OneHot kernel ignores a float32 dtype and writes int32 bits). */
function oneHot(labels: tf.Tensor1D, classes: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(labels, classes), 'float32') as tf.Tensor2D;
}

/** Mean cross-entropy and accuracy of the logits, in batches; one download at the end. */
function validate(
  specs: LayerSpec[],
  params: Params,
  data: Dataset,
  y: Int32Array,
  classes: number,
  batchSize: number,
): { loss: number; accuracy: number } {
  const n = data.n;
  const f = data.features;
  let acc = tf.zeros([2]);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const next = tf.tidy(() => {
      const xb = tf.tensor2d(data.x.subarray(start * f, end * f), [end - start, f]);
      const lb = tf.tensor1d(y.subarray(start, end), 'int32');
      const { lossSum, correct } = batchMetrics(logits(specs, params, xb), oneHot(lb, classes), lb);
      return tf.add(acc, tf.stack([lossSum, correct]));
    });
    acc.dispose();
    acc = next;
  }
  const [lossSum, correct] = acc.dataSync();
  acc.dispose();
  return { loss: lossSum / n, accuracy: correct / n };
}

/**
 * Trains `mlp` (left untouched) on `data` with mini-batch Adam and softmax cross-entropy on the
 * last layer's pre-activation, dropout from each hidden layer's `dropout`, early stopping on the
 * validation loss, and returns a new MLP holding the weights of the epoch with the lowest
 * validation loss (always restored, whether or not training stopped early). Same seed, data,
 * model and backend give bitwise identical weights.
 */
export async function fitMLP(mlp: MLP, data: DatasetSplits, options: FitOptions = {}): Promise<FitResult> {
  await initBackend();
  validateMLP(mlp);
  const opts = resolveOptions(options);
  const specs = layerSpecs(mlp);
  checkTrainable(specs, mlp.name);
  const maskArrays = checkMasks(mlp, options.masks);
  const { train, validation, source: validationSource } = splitData(data, opts.validationSplit);
  const trainY = checkDataset(train, mlp, 'training');
  const valY = checkDataset(validation, mlp, 'validation');
  const run = new TrainingRun(mlp, opts, options, specs, maskArrays, { train, validation, validationSource, trainY, valY });
  return run.fit();
}

/** The rows a run trains and validates on, with their labels. */
interface TrainingData {
  train: Dataset;
  validation: Dataset;
  validationSource: string;
  trainY: Int32Array;
  valY: Int32Array;
}

/**
 * One run of fitMLP: epochs of shuffled mini-batches, validation and early stopping after each.
 * Holds the tensors it owns (parameters, masks, Adam's moments, the epoch's running totals)
 * until fit() ends, however it ends.
 */
class TrainingRun {
  private readonly classes: number;
  private readonly n: number;
  private readonly bs: number;
  private readonly shuffleRng: Rng;
  private readonly dropoutRng: Rng;
  private readonly dropoutBuffers: (Float32Array | null)[];
  private readonly history: TrainingHistory;
  private readonly owned: tf.Tensor[] = [];
  private flat: FlatParams | null = null;
  private adam: Adam | null = null;
  /** running [loss sum, correct] of the current epoch */
  private totals: tf.Tensor | null = null;
  private flatMasks: (tf.Tensor | null)[] = [];
  private xBatch = new Float32Array(0);
  private yBatch = new Int32Array(0);
  private order = new Int32Array(0);
  /** The parameters of the epoch with the lowest validation loss so far. */
  private best: Float32Array[] | null = null;
  /** Epochs since the validation loss last went down. */
  private wait = 0;

  constructor(
    private readonly mlp: MLP,
    private readonly opts: ResolvedFitOptions,
    private readonly options: FitOptions,
    private readonly specs: LayerSpec[],
    private readonly maskArrays: (Float32Array | null)[],
    private readonly data: TrainingData,
  ) {
    const L = mlp.layers.length;
    const n = data.train.n;
    const bs = opts.batchSize;
    this.classes = mlp.layers[L - 1].units;
    this.n = n;
    this.bs = bs;
    this.shuffleRng = new Rng(opts.seed, 2);
    this.dropoutRng = new Rng(opts.seed, 3);
    this.dropoutBuffers = specs.map((s, l) =>
      l < L - 1 && s.dropout > 0 ? new Float32Array(Math.min(bs, n) * mlp.layers[l].units) : null,
    );
    this.history = {
      backend: backendInfo(),
      seed: opts.seed,
      options: opts,
      model: { name: mlp.name, sizes: [mlp.inputSize, ...mlp.layers.map((l) => l.units)] },
      trainSamples: n,
      validationSamples: data.validation.n,
      validationSource: data.validationSource,
      epochs: [],
      bestEpoch: 0,
      bestValLoss: Infinity,
      stoppedEarly: false,
      totalSeconds: 0,
    };
  }

  async fit(): Promise<FitResult> {
    const { opts, history } = this;
    const t0 = performance.now();
    try {
      const f = this.setUp();
      for (let epoch = 1; epoch <= opts.epochs; epoch++) {
        const stop = await this.runEpoch(epoch, f);
        if (stop && epoch < opts.epochs) {
          history.stoppedEarly = true;
          break;
        }
      }
      if (!this.best) {
        // validation loss never finite: return the last weights
        this.best = downloadParams(f);
        history.bestEpoch = history.epochs.length;
      }
      history.totalSeconds = (performance.now() - t0) / 1000;
      return { mlp: buildMLP(this.mlp, f, this.best, this.maskArrays), history };
    } finally {
      if (this.flat) tf.dispose(this.flat.tensors);
      this.totals?.dispose();
      this.adam?.dispose();
      tf.dispose(this.owned);
    }
  }

  /** Batch buffers, the parameters and weight masks on the backend, and the optimizer. */
  private setUp(): FlatParams {
    const { mlp, opts, n, bs } = this;
    // Batches are assembled in JS and uploaded: a memcpy per row plus one upload (~1 ms for
    // 512x784) beats tf.gather from a resident copy, which takes ~20 ms on wasm.
    this.xBatch = new Float32Array(Math.min(bs, n) * this.data.train.features);
    this.yBatch = new Int32Array(Math.min(bs, n));
    this.flat = uploadParams(mlp, this.maskArrays);
    const f = this.flat;
    this.flatMasks = f.tensors.map(() => null);
    this.maskArrays.forEach((m, i) => {
      if (m) this.flatMasks[f.kernelIndex[i]] = this.keep(tf.tensor2d(m, [mlp.layers[i].inputSize, mlp.layers[i].units]));
    });
    this.adam = new Adam(
      { learningRate: opts.learningRate, beta1: opts.beta1, beta2: opts.beta2, epsilon: opts.epsilon },
      f.tensors.map((t) => t.shape),
    );
    this.order = new Int32Array(n);
    return f;
  }

  private keep<T extends tf.Tensor>(t: T): T {
    this.owned.push(t);
    return t;
  }

  /** Trains one epoch, validates, records its metrics and reports them; true when early stopping says to stop. */
  private async runEpoch(epoch: number, f: FlatParams): Promise<boolean> {
    const { opts, data } = this;
    const epochStart = performance.now();
    const { sums, rows } = await this.trainBatches(epoch, f);
    const [lossSum, correct] = sums;
    const trainSeconds = (performance.now() - epochStart) / 1000;
    const val = validate(this.specs, toParams(f), data.validation, data.valY, this.classes, 1024);
    const metrics: EpochMetrics = {
      epoch,
      epochs: opts.epochs,
      loss: lossSum / rows,
      accuracy: correct / rows,
      valLoss: val.loss,
      valAccuracy: val.accuracy,
      seconds: (performance.now() - epochStart) / 1000,
      samplesPerSecond: rows / trainSeconds,
    };
    this.history.epochs.push(metrics);
    const stop = this.earlyStopping(epoch, val.loss, f);
    if (this.options.onEpoch) await this.options.onEpoch(metrics);
    return stop;
  }

  /** Keras EarlyStopping(monitor='val_loss', patience, restore_best_weights=True), min_delta 0: keeps the best weights; true once patience runs out. */
  private earlyStopping(epoch: number, valLoss: number, f: FlatParams): boolean {
    const history = this.history;
    if (valLoss < history.bestValLoss) {
      history.bestValLoss = valLoss;
      history.bestEpoch = epoch;
      this.best = downloadParams(f);
      this.wait = 0;
      return false;
    }
    this.wait++;
    return this.wait >= this.opts.patience;
  }

  /**
   * Every batch of the epoch (the last epoch: its lastEpochShare of them), in shuffled order;
   * returns the epoch's [loss sum, correct] and the rows trained. A cancel lands between batches.
   */
  private async trainBatches(epoch: number, f: FlatParams): Promise<{ sums: Float32Array | Int32Array | Uint8Array; rows: number }> {
    const { n, bs, order } = this;
    const share = this.opts.lastEpochShare;
    const limit = share !== undefined && epoch === this.opts.epochs ? Math.max(1, Math.round(share * Math.ceil(n / bs))) : Infinity;
    for (let i = 0; i < n; i++) order[i] = i;
    if (this.opts.shuffle) this.shuffleRng.shuffle(order);
    let totals: tf.Tensor = tf.zeros([2]);
    this.totals = totals;
    let batchNo = 0;
    for (let start = 0; start < n && batchNo < limit; start += bs, batchNo++) {
      await yieldToEventLoop();
      if (this.options.signal?.aborted) {
        throw new CancelledError(`training cancelled during epoch ${epoch} (before batch ${batchNo + 1})`);
      }
      const end = Math.min(n, start + bs);
      const rows = end - start;
      const sofar = totals;
      const next = tf.tidy(() => this.trainBatch(f, start, rows, sofar));
      tf.dispose(f.tensors);
      f.tensors = next.updated;
      totals.dispose();
      totals = next.totals;
      this.totals = totals;
    }
    const sums = totals.dataSync();
    totals.dispose();
    this.totals = null;
    return { sums, rows: Math.min(n, batchNo * bs) };
  }

  /** One Adam step on rows order[start, start + rows), inside tf.tidy: the updated parameters and the epoch's totals with this batch added. */
  private trainBatch(f: FlatParams, start: number, rows: number, totals: tf.Tensor): { updated: tf.Tensor[]; totals: tf.Tensor } {
    const { mlp, specs, xBatch, yBatch, order } = this;
    const { train, trainY } = this.data;
    const features = train.features;
    for (let i = 0; i < rows; i++) {
      const r = order[start + i];
      xBatch.set(train.x.subarray(r * features, (r + 1) * features), i * features);
      yBatch[i] = trainY[r];
    }
    const xb = tf.tensor2d(xBatch.subarray(0, rows * features), [rows, features]);
    const lb = tf.tensor1d(yBatch.subarray(0, rows), 'int32');
    const yb = oneHot(lb, this.classes);
    const masks = specs.map((s, l) => {
      const buf = this.dropoutBuffers[l];
      if (!buf) return null;
      const m = buf.subarray(0, rows * mlp.layers[l].units);
      return tf.tensor2d(this.dropoutRng.dropoutMask(m, s.dropout), [rows, mlp.layers[l].units]);
    });
    const r = lossAndGradients(specs, toParams(f), xb, yb, lb, masks);
    const grads = this.penalizedGradients(f, r.grads);
    const updated = this.adam!.update(f.tensors, grads, this.flatMasks);
    return { updated, totals: tf.add(totals, tf.stack([r.lossSum, r.correct])) };
  }

  /** The gradients in the order of f.tensors, each kernel's with its L2 and L1 penalty added. */
  private penalizedGradients(f: FlatParams, g: Gradients): tf.Tensor[] {
    const grads = new Array<tf.Tensor>(f.tensors.length);
    const { l1, l2 } = this.opts;
    g.kernels.forEach((k, l) => {
      const w = f.tensors[f.kernelIndex[l]];
      let total: tf.Tensor = k;
      if (l2 > 0) total = tf.add(total, tf.mul(w, 2 * l2));
      if (l1 > 0) total = tf.add(total, tf.mul(tf.sign(w), l1));
      grads[f.kernelIndex[l]] = total;
    });
    g.biases.forEach((b, l) => {
      if (b) grads[f.biasIndex[l] as number] = b;
    });
    return grads;
  }
}

/** Layer names as Keras gives them in a fresh session: dense, dense_1, ... */
function denseName(i: number): string {
  return i === 0 ? 'dense' : `dense_${i}`;
}

/**
 * A fresh MLP as Keras would build it: glorot_uniform kernels, zero biases, ReLU hidden layers
 * with `dropout` recorded on each, softmax output.
 */
export function initMLP(options: {
  inputShape: number[];
  hidden: number[];
  classes: number;
  dropout?: number | number[];
  seed?: number;
  name?: string;
}): MLP {
  const { inputShape, hidden, classes } = options;
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  const d = options.dropout ?? 0;
  const rates: number[] = Array.isArray(d) ? d : hidden.map(() => d);
  if (rates.length !== hidden.length) {
    throw new PruneScopeError(`got ${rates.length} dropout rates for ${hidden.length} hidden layers`);
  }
  for (const h of hidden)
    if (!Number.isInteger(h) || h < 1) throw new PruneScopeError(`hidden layer sizes must be positive integers (got ${h})`);
  for (const r of rates) if (!(r >= 0 && r < 1)) throw new PruneScopeError(`dropout rate must be in [0, 1) (got ${r})`);
  if (!Number.isInteger(classes) || classes < 2) throw new PruneScopeError(`need at least 2 classes (got ${classes})`);
  const rng = new Rng(options.seed ?? DEFAULTS.seed, 1);
  const sizes = [inputSize, ...hidden, classes];
  const layers: DenseLayer[] = [];
  for (let i = 0; i < sizes.length - 1; i++) {
    const last = i === sizes.length - 2;
    const layer: DenseLayer = {
      name: denseName(i),
      inputSize: sizes[i],
      units: sizes[i + 1],
      weights: glorotUniform(rng, sizes[i], sizes[i + 1]),
      bias: new Float32Array(sizes[i + 1]),
      activation: last ? 'softmax' : 'relu',
    };
    if (!last && rates[i] > 0) layer.dropout = rates[i];
    layers.push(layer);
  }
  return { name: options.name ?? 'mlp', inputShape: [...inputShape], inputSize, layers };
}

/** Trains a fresh MLP (see initMLP) on the data with fitMLP. */
export async function trainMLP(data: DatasetSplits, options: TrainOptions): Promise<FitResult> {
  const train = data.train;
  if (!train) throw new DataError(data.name, 'has no training split');
  const classes = Math.max(train.classes, data.validation?.classes ?? 0, data.test?.classes ?? 0);
  const mlp = initMLP({
    inputShape: train.sampleShape,
    hidden: options.hidden,
    classes,
    dropout: options.dropout,
    seed: options.seed,
    name: options.name,
  });
  const result = await fitMLP(mlp, data, options);
  result.history.options.hidden = [...options.hidden];
  result.history.options.dropout = mlp.layers.slice(0, -1).map((l) => l.dropout ?? 0);
  return result;
}
