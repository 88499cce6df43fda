/**
 * The networks the benchmarks share: He-initialised ReLU MLPs of the pruning challenge's shape
 * (784-1000-1000-500-200-10), deterministic per seed. No trained checkpoint of this shape ships
 * with the project, and the costs measured depend on the shapes, not on the training.
 */
import type { DenseLayer, MLP } from '../src/core/model/mlp';
import { seededRandom } from '../src/core/random';

export const CHALLENGE_ARCH = [784, 1000, 1000, 500, 200, 10];

/** Layer l (1-based) is named names[l]; the default is dense1 ... dense5. */
export function randomNetwork(seed: number, names: string[] = CHALLENGE_ARCH.map((_, l) => `dense${l}`)): MLP {
  const arch = CHALLENGE_ARCH;
  const u = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const layers: DenseLayer[] = [];
  for (let l = 1; l < arch.length; l++) {
    const std = Math.sqrt(2 / arch[l - 1]);
    const weights = new Float32Array(arch[l - 1] * arch[l]);
    for (let i = 0; i < weights.length; i++) weights[i] = gauss() * std;
    const bias = new Float32Array(arch[l]);
    for (let i = 0; i < bias.length; i++) bias[i] = 0.01 * gauss();
    const activation = l === arch.length - 1 ? 'linear' : 'relu';
    layers.push({ name: names[l], inputSize: arch[l - 1], units: arch[l], weights, bias, activation });
  }
  return { name: `random-${seed}`, inputShape: [784], inputSize: 784, layers };
}
