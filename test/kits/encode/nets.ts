/**
 * Weights for the kit's models, made deterministically in plain JavaScript (no training, no
 * product code): small random networks, and MNIST networks whose first layer looks at digits.
 *
 * An MNIST network is built layer by layer on the first `sample` training rows: each hidden unit
 * of the first layer weighs one class-mean difference, a random mix of the others and the difference
 * of two digit images (plus a little noise, so that no weight is exactly 0), later
 * units a random mix of the layer before; every unit is scaled to a spread of 2 on the sample and
 * its bias set so that it is off on a chosen share of the rows (ReLU) or centred (sigmoid). Units
 * listed as dead get small negative weights and a bias of -0.1: on inputs >= 0 (pixels, ReLU or
 * sigmoid outputs) they are exactly 0 on every row. The output layer is a ridge least-squares fit
 * of the last hidden layer to the one-hot labels, so the network classifies well above chance; a
 * few passes of plain SGD over the sample can follow (`epochs`) to make it a trained-looking model.
 */
import { mnistRows } from './mnist';
import { activateRow, layerRow, type Net, type NetLayer, type RefActivation } from './reference';

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Weight of the digit-image difference and of the random class mix in a unit's direction. */
const NOISE = 0.5;
const MIX = 0.35;

export function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Uniform weights in [-1, 1] x scale / sqrt(inputs) and biases in [-0.5, 0.5] x biasScale. */
export function randomNet(
  sizes: number[],
  activations: RefActivation[],
  seed: number,
  names?: string[],
  scale = 1.5,
  biasScale = 0.5,
): Net {
  const rand = rng(seed);
  const layers: NetLayer[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [inputSize, units] = [sizes[l], sizes[l + 1]];
    const limit = scale / Math.sqrt(inputSize);
    layers.push({
      name: names?.[l] ?? `dense_${l + 1}`,
      inputSize,
      units,
      w: Float32Array.from({ length: inputSize * units }, () => (2 * rand() - 1) * limit),
      bias: Float32Array.from({ length: units }, () => (rand() - 0.5) * biasScale),
      activation: activations[l],
    });
  }
  return { inputShape: [sizes[0]], inputSize: sizes[0], layers };
}

export interface MnistNetOptions {
  /** Hidden layer sizes, e.g. [10, 10]. */
  hidden: number[];
  activation: 'relu' | 'sigmoid';
  names: string[];
  seed: number;
  /** Per hidden layer, the units that never fire. */
  dead?: number[][];
  /** Training rows the biases and the readout are fitted on (default 1000). */
  sample?: number;
  inputShape?: number[];
  /** Passes of plain SGD over the sample after construction (default none). */
  epochs?: number;
  rate?: number;
}

function quantile(values: Float64Array, q: number): number {
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.floor(q * s.length)))];
}

/** Scales `dir` so that its outputs on the rows spread by 2, and picks the bias. */
function fitUnit(
  dir: Float64Array,
  rows: Float64Array,
  n: number,
  activation: 'relu' | 'sigmoid',
  offShare: number,
): { w: Float64Array; b: number } {
  const p = dir.length;
  const z = new Float64Array(n);
  let mean = 0;
  for (let r = 0; r < n; r++) {
    let s = 0;
    const at = r * p;
    for (let i = 0; i < p; i++) s += dir[i] * rows[at + i];
    z[r] = s;
    mean += s / n;
  }
  let variance = 0;
  for (let r = 0; r < n; r++) variance += (z[r] - mean) ** 2 / n;
  const k = 2 / (Math.sqrt(variance) || 1);
  const w = new Float64Array(p);
  for (let i = 0; i < p; i++) w[i] = dir[i] * k;
  const b = activation === 'relu' ? -k * quantile(z, offShare) : -k * mean;
  return { w, b };
}

function deadUnit(inputSize: number, rand: () => number): { w: Float64Array; b: number } {
  const w = new Float64Array(inputSize);
  for (let i = 0; i < inputSize; i++) w[i] = -(0.001 + 0.01 * rand());
  return { w, b: -0.1 };
}

function gaussians(count: number, rand: () => number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = gaussian(rand);
  return out;
}

/**
 * Direction of a first-layer unit: the difference between the mean image of class `target` and
 * the mean of all, plus a random mix of the other class differences and of two digit images.
 */
function firstLayerDirection(
  target: number,
  means: Float64Array[],
  overall: Float64Array,
  x: Float32Array,
  n: number,
  rand: () => number,
): Float64Array {
  const p = overall.length;
  const d = new Float64Array(p);
  means.forEach((m, c) => {
    const g = (c === target ? 1 : 0) + MIX * gaussian(rand);
    for (let i = 0; i < p; i++) d[i] += g * (m[i] - overall[i]);
  });
  const a = Math.floor(rand() * n);
  const b = Math.floor(rand() * n);
  // Border pixels are 0 in every image: a little noise keeps their weights from being exactly 0.
  for (let i = 0; i < p; i++) d[i] += NOISE * (x[a * p + i] - x[b * p + i]) + 0.01 * gaussian(rand);
  return d;
}

/** Direction of a later unit: mostly the unit of the same index below (when there is one), plus a random mix. */
function laterDirection(u: number, inputSize: number, rand: () => number): Float64Array {
  const d = gaussians(inputSize, rand);
  for (let i = 0; i < inputSize; i++) d[i] *= MIX;
  if (u < inputSize) d[u] += 1;
  return d;
}

/** Ridge least squares of [h, 1] onto 8 x one-hot - 0.8: the readout weights [10][k] and biases. */
function readout(h: Float64Array, n: number, k: number, y: Int32Array): { w: Float32Array; b: Float32Array } {
  const m = k + 1;
  const a = new Float64Array(m * m);
  const rhs = new Float64Array(m * 10);
  const row = new Float64Array(m);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < k; i++) row[i] = h[r * k + i];
    row[k] = 1;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) a[i * m + j] += row[i] * row[j];
      for (let c = 0; c < 10; c++) rhs[i * 10 + c] += row[i] * (c === y[r] ? 7.2 : -0.8);
    }
  }
  let trace = 0;
  for (let i = 0; i < m; i++) trace += a[i * m + i];
  for (let i = 0; i < m; i++) a[i * m + i] += (1e-3 * trace) / m;
  // Gaussian elimination with partial pivoting, ten right-hand sides.
  for (let c = 0; c < m; c++) {
    let piv = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(a[r * m + c]) > Math.abs(a[piv * m + c])) piv = r;
    for (let j = 0; j < m; j++) [a[c * m + j], a[piv * m + j]] = [a[piv * m + j], a[c * m + j]];
    for (let j = 0; j < 10; j++) [rhs[c * 10 + j], rhs[piv * 10 + j]] = [rhs[piv * 10 + j], rhs[c * 10 + j]];
    for (let r = c + 1; r < m; r++) {
      const f = a[r * m + c] / a[c * m + c];
      if (f === 0) continue;
      for (let j = c; j < m; j++) a[r * m + j] -= f * a[c * m + j];
      for (let j = 0; j < 10; j++) rhs[r * 10 + j] -= f * rhs[c * 10 + j];
    }
  }
  const beta = new Float64Array(m * 10);
  for (let c = m - 1; c >= 0; c--) {
    for (let j = 0; j < 10; j++) {
      let s = rhs[c * 10 + j];
      for (let q = c + 1; q < m; q++) s -= a[c * m + q] * beta[q * 10 + j];
      beta[c * 10 + j] = s / a[c * m + c];
    }
  }
  const w = new Float32Array(10 * k);
  for (let o = 0; o < 10; o++) for (let i = 0; i < k; i++) w[o * k + i] = beta[i * 10 + o];
  return { w, b: Float32Array.from({ length: 10 }, (_, o) => beta[k * 10 + o]) };
}

/**
 * Plain stochastic gradient descent on softmax cross-entropy, one row at a time, in a fixed
 * shuffled order: a few passes that turn the constructed network into a trained-looking one. Dead
 * units stay dead (a ReLU that is off passes no gradient, and its outputs are 0).
 */
function sgd(net: Net, x: Float32Array, y: Int32Array, n: number, epochs: number, rate: number, rand: () => number): void {
  const order = Array.from({ length: n }, (_, i) => i);
  const w64 = net.layers.map((l) => Float64Array.from(l.w));
  const b64 = net.layers.map((l) => Float64Array.from(l.bias ?? new Float32Array(l.units)));
  for (let e = 0; e < epochs; e++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const r of order) {
      const outs: Float64Array[] = [x.subarray(r * net.inputSize, (r + 1) * net.inputSize) as unknown as Float64Array];
      net.layers.forEach((l, li) => {
        const h = new Float64Array(l.units);
        const input = outs[li];
        for (let o = 0; o < l.units; o++) {
          let s = b64[li][o];
          const row = o * l.inputSize;
          for (let k = 0; k < l.inputSize; k++) s += w64[li][row + k] * input[k];
          h[o] = s;
        }
        if (li < net.layers.length - 1) activateRow(l.activation, h);
        outs.push(h);
      });
      const logits = outs[outs.length - 1];
      const delta = Float64Array.from(logits);
      activateRow('softmax', delta);
      delta[y[r]] -= 1;
      let d = delta;
      for (let li = net.layers.length - 1; li >= 0; li--) {
        const l = net.layers[li];
        const input = outs[li];
        const back = new Float64Array(l.inputSize);
        for (let o = 0; o < l.units; o++) {
          const g = d[o];
          if (g === 0) continue;
          const row = o * l.inputSize;
          for (let k = 0; k < l.inputSize; k++) {
            back[k] += g * w64[li][row + k];
            w64[li][row + k] -= rate * g * input[k];
          }
          b64[li][o] -= rate * g;
        }
        if (li > 0) {
          const below = net.layers[li - 1];
          for (let k = 0; k < back.length; k++) {
            const h = input[k];
            back[k] *= below.activation === 'relu' ? (h > 0 ? 1 : 0) : h * (1 - h);
          }
        }
        d = back;
      }
    }
  }
  net.layers.forEach((l, li) => {
    l.w = Float32Array.from(w64[li]);
    l.bias = Float32Array.from(b64[li]);
  });
}

/** An MNIST classifier 784 -> hidden... -> 10 (linear logits); see the file comment. */
export function mnistNet(o: MnistNetOptions): Net {
  const n = o.sample ?? 1000;
  const data = mnistRows('train', 0, n);
  const rand = rng(o.seed);
  const p = 784;
  const means = Array.from({ length: 10 }, () => new Float64Array(p));
  const counts = new Array<number>(10).fill(0);
  const overall = new Float64Array(p);
  for (let r = 0; r < n; r++) {
    counts[data.y[r]]++;
    for (let i = 0; i < p; i++) {
      means[data.y[r]][i] += data.x[r * p + i];
      overall[i] += data.x[r * p + i] / n;
    }
  }
  for (let c = 0; c < 10; c++) for (let i = 0; i < p; i++) means[c][i] /= Math.max(1, counts[c]);

  const net: Net = { inputShape: o.inputShape ?? [p], inputSize: p, layers: [] };
  let rows = Float64Array.from(data.x);
  let inputSize = p;
  o.hidden.forEach((units, li) => {
    const w = new Float32Array(units * inputSize);
    const bias = new Float32Array(units);
    for (let u = 0; u < units; u++) {
      const offShare = 0.15 + 0.6 * ((u * 0.6180339887 + li * 0.37) % 1);
      const dir = li === 0 ? firstLayerDirection(u % 10, means, overall, data.x, n, rand) : laterDirection(u, inputSize, rand);
      const unit = o.dead?.[li]?.includes(u) ? deadUnit(inputSize, rand) : fitUnit(dir, rows, n, o.activation, offShare);
      w.set(unit.w, u * inputSize);
      bias[u] = unit.b;
    }
    const layer: NetLayer = { name: o.names[li], inputSize, units, w, bias, activation: o.activation };
    net.layers.push(layer);
    const next = new Float64Array(n * units);
    for (let r = 0; r < n; r++) next.set(layerRow(layer, rows.subarray(r * inputSize, (r + 1) * inputSize)), r * units);
    rows = next;
    inputSize = units;
  });
  const out = readout(rows, n, inputSize, data.y);
  // A unit that never fires gets 0 from the fit: a little noise, as a random initialisation leaves.
  for (let i = 0; i < out.w.length; i++) out.w[i] += 0.01 * gaussian(rand);
  net.layers.push({ name: o.names[o.hidden.length], inputSize, units: 10, w: out.w, bias: out.b, activation: 'linear' });
  if (o.epochs) sgd(net, data.x, data.y, n, o.epochs, o.rate ?? 0.01, rand);
  return net;
}
