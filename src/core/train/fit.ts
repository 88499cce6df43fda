import { backendInfo, engineInfo, initBackend, type BackendInfo } from '../backend';
import type { Dataset, DatasetSplits } from '../data/dataset';
import { sliceRows } from '../data/dataset';
import { checkFits } from '../data/load';
import { CancelledError, DataError, PruneScopeError } from '../errors';
import type { DenseLayer, MLP } from '../model/mlp';
import { outputSize, validateMLP } from '../model/mlp';
import { KERAS_ADAM } from './adam';
import { checkTrainable, type LayerSpec } from './backprop';
import { OrtStepper } from './ort-step';
import { flatLayout, type Stepper, type StepperSetup } from './stepper';
import { TfjsStepper } from './tfjs-step';
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
  /** What ran the arithmetic: onnxruntime, or the TensorFlow.js backend's engine (wasm, tfjs-node, tfjs-cpu). */
  engine?: string;
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

function buildMLP(mlp: MLP, values: Float32Array[], masks: (Float32Array | null)[]): MLP {
  const layout = flatLayout(mlp);
  // w * 0 is -0 for negative w; pruned weights are written as +0
  masks.forEach((m, i) => {
    if (!m) return;
    const w = values[layout.kernelIndex[i]];
    for (let j = 0; j < w.length; j++) if (m[j] === 0) w[j] = 0;
  });
  return {
    ...mlp,
    inputShape: [...mlp.inputShape],
    layers: mlp.layers.map((l, i): DenseLayer => ({
      ...l,
      weights: values[layout.kernelIndex[i]],
      bias: layout.biasIndex[i] === null ? null : values[layout.biasIndex[i]],
    })),
  };
}

/**
 * The engine a run steps on: onnxruntime when the process chose it (initEngine), else
 * TensorFlow.js on the active backend.
 */
function makeStepper(setup: StepperSetup): Stepper {
  const engine = engineInfo();
  if (engine?.name === 'onnxruntime') return new OrtStepper(setup);
  return new TfjsStepper(setup, engine?.name ?? backendInfo().name);
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
 * One run of fitMLP: epochs of shuffled mini-batches, validation and early stopping after each,
 * the arithmetic done by a Stepper (tfjs or onnxruntime), disposed when fit() ends however it ends.
 */
class TrainingRun {
  private readonly n: number;
  private readonly bs: number;
  private readonly shuffleRng: Rng;
  private readonly dropoutRng: Rng;
  private readonly dropoutBuffers: (Float32Array | null)[];
  private readonly history: TrainingHistory;
  private readonly xBatch: Float32Array;
  private readonly yBatch: Int32Array;
  private readonly order: Int32Array;
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
    this.n = n;
    this.bs = bs;
    this.shuffleRng = new Rng(opts.seed, 2);
    this.dropoutRng = new Rng(opts.seed, 3);
    this.dropoutBuffers = specs.map((s, l) =>
      l < L - 1 && s.dropout > 0 ? new Float32Array(Math.min(bs, n) * mlp.layers[l].units) : null,
    );
    // Batches are assembled in JS and uploaded: a memcpy per row plus one upload (~1 ms for
    // 512x784) beats tf.gather from a resident copy, which takes ~20 ms on wasm.
    this.xBatch = new Float32Array(Math.min(bs, n) * data.train.features);
    this.yBatch = new Int32Array(Math.min(bs, n));
    this.order = new Int32Array(n);
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
    const stepper = makeStepper({
      mlp: this.mlp,
      specs: this.specs,
      masks: this.maskArrays,
      adam: { learningRate: opts.learningRate, beta1: opts.beta1, beta2: opts.beta2, epsilon: opts.epsilon },
      l1: opts.l1,
      l2: opts.l2,
    });
    history.engine = stepper.engine;
    try {
      for (let epoch = 1; epoch <= opts.epochs; epoch++) {
        const stop = await this.runEpoch(epoch, stepper);
        if (stop && epoch < opts.epochs) {
          history.stoppedEarly = true;
          break;
        }
      }
      if (!this.best) {
        // validation loss never finite: return the last weights
        this.best = stepper.params();
        history.bestEpoch = history.epochs.length;
      }
      history.totalSeconds = (performance.now() - t0) / 1000;
      return { mlp: buildMLP(this.mlp, this.best, this.maskArrays), history };
    } finally {
      stepper.dispose();
    }
  }

  /** Trains one epoch, validates, records its metrics and reports them; true when early stopping says to stop. */
  private async runEpoch(epoch: number, stepper: Stepper): Promise<boolean> {
    const { opts, data } = this;
    const epochStart = performance.now();
    const rows = await this.trainBatches(epoch, stepper);
    const [lossSum, correct] = stepper.takeTotals();
    const trainSeconds = (performance.now() - epochStart) / 1000;
    const val = stepper.validate(data.validation, data.valY);
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
    const stop = this.earlyStopping(epoch, val.loss, stepper);
    if (this.options.onEpoch) await this.options.onEpoch(metrics);
    return stop;
  }

  /** Keras EarlyStopping(monitor='val_loss', patience, restore_best_weights=True), min_delta 0: keeps the best weights; true once patience runs out. */
  private earlyStopping(epoch: number, valLoss: number, stepper: Stepper): boolean {
    const history = this.history;
    if (valLoss < history.bestValLoss) {
      history.bestValLoss = valLoss;
      history.bestEpoch = epoch;
      this.best = stepper.params();
      this.wait = 0;
      return false;
    }
    this.wait++;
    return this.wait >= this.opts.patience;
  }

  /**
   * Every batch of the epoch (the last epoch: its lastEpochShare of them), in shuffled order;
   * returns the rows trained. A cancel lands between batches.
   */
  private async trainBatches(epoch: number, stepper: Stepper): Promise<number> {
    const { n, bs, order } = this;
    const share = this.opts.lastEpochShare;
    const limit = share !== undefined && epoch === this.opts.epochs ? Math.max(1, Math.round(share * Math.ceil(n / bs))) : Infinity;
    for (let i = 0; i < n; i++) order[i] = i;
    if (this.opts.shuffle) this.shuffleRng.shuffle(order);
    let batchNo = 0;
    for (let start = 0; start < n && batchNo < limit; start += bs, batchNo++) {
      await yieldToEventLoop();
      if (this.options.signal?.aborted) {
        throw new CancelledError(`training cancelled during epoch ${epoch} (before batch ${batchNo + 1})`);
      }
      const rows = Math.min(n, start + bs) - start;
      this.gatherBatch(start, rows);
      stepper.step(this.xBatch, this.yBatch, rows, this.dropoutMasks(rows));
    }
    return Math.min(n, batchNo * bs);
  }

  /** Rows order[start, start + rows) of the training data into the batch buffers. */
  private gatherBatch(start: number, rows: number): void {
    const { train, trainY } = this.data;
    const features = train.features;
    for (let i = 0; i < rows; i++) {
      const r = this.order[start + i];
      this.xBatch.set(train.x.subarray(r * features, (r + 1) * features), i * features);
      this.yBatch[i] = trainY[r];
    }
  }

  /** This batch's dropout masks (entries 0 or 1/(1-rate)), drawn in layer order. */
  private dropoutMasks(rows: number): (Float32Array | null)[] {
    return this.specs.map((s, l) => {
      const buf = this.dropoutBuffers[l];
      if (!buf) return null;
      return this.dropoutRng.dropoutMask(buf.subarray(0, rows * this.mlp.layers[l].units), s.dropout);
    });
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
