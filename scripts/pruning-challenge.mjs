// The pruning challenge check (weight vs unit pruning of a 784-1000-1000-500-200-10 MNIST MLP,
// per-layer, no retraining, k = 0..99%). Trains the challenge baseline when it is missing (the
// recipe below: no dropout, a small L1 penalty), runs `prunescope analyze` on it and, when
// `npm run demo` has trained it, on the demo baseline (dropout 0.5, no penalty), and writes
// docs/pruning-challenge.md with both tables next to two published solutions.
//   node scripts/pruning-challenge.mjs [--reuse]   (--reuse: rewrite the document from earlier runs)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'bin', 'prunescope.js');
const ks = [0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99];
const reuse = process.argv.includes('--reuse');

const RECIPE = ['--hidden', '1000,1000,500,200', '--dropout', '0', '--l1', '3e-6', '--epochs', '15', '--seed', '1'];
const models = [
  {
    id: 'challenge',
    label: 'challenge baseline',
    dir: join(root, 'demo-output', 'challenge-baseline'),
    recipe: `\`PRUNESCOPE_WASM_THREADS=1 prunescope train --data mnist ${RECIPE.join(' ')} --engine wasm\``,
    train: RECIPE,
  },
  {
    id: 'demo',
    label: 'demo baseline',
    dir: join(root, 'demo-output', 'baseline'),
    recipe: 'dropout 0.5, no penalty, at most 12 epochs (`npm run demo` trains it)',
    train: null,
  },
];

/**
 * The document's sections after this line are written by hand (compensation, removed units) and
 * survive a rerun: only the part above it is this script's.
 */
const KEPT_FROM_HERE = '<!-- The part above is written by scripts/pruning-challenge.mjs; what follows is kept when it reruns. -->';

function keptPart(path) {
  if (!existsSync(path)) return '';
  const old = readFileSync(path, 'utf8');
  const at = old.indexOf(KEPT_FROM_HERE);
  return at < 0 ? '' : old.slice(at + KEPT_FROM_HERE.length).replace(/^\n+/, '\n');
}

function run(args, env = {}) {
  console.log(`$ prunescope ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const analysed = [];
for (const m of models) {
  const model = join(m.dir, 'model.json');
  const out = join(root, 'demo-output', `pruning-challenge-${m.id}`);
  if (!existsSync(model)) {
    if (!m.train) {
      console.log(`(no ${m.label} at ${model}: skipped)`);
      continue;
    }
    // The wasm engine on one thread, as the baseline in the table was trained: the engine and the
    // thread count change the order of float sums, and so the network (trained on onnxruntime, the
    // same recipe kept 92.5% at 90% instead of 97.0%).
    run(['train', '--data', 'mnist', ...m.train, '--engine', 'wasm', '--out', m.dir], { PRUNESCOPE_WASM_THREADS: '1' });
  }
  if (!(reuse && existsSync(join(out, 'results.json')))) {
    run([
      'analyze',
      model,
      '--data',
      'mnist',
      '--strategies',
      'magnitude,unit-l2',
      '--sparsities',
      ks.join(','),
      '--geometry-samples',
      '0',
      '--force',
      '--out',
      out,
    ]);
  }
  analysed.push({ ...m, results: JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) });
}

const acc = (results, strategy, k) => results.runs.find((r) => r.strategy === strategy).points.find((p) => p.sparsity === k).accuracy;
const pct = (x) => `${(x * 100).toFixed(1)}%`;
const published = { 0.9: { a: ['82.4%', '36.7%'], b: ['95%', '52%'] } };
// "Falls below from 70% on": strictly below wherever weight pruning is above chance, and never above.
const chance = 0.115;
const unitBelowFrom70 = (r) =>
  ks
    .filter((k) => k >= 0.7)
    .every((k) =>
      acc(r, 'magnitude', k) > chance
        ? acc(r, 'unit-l2', k) < acc(r, 'magnitude', k)
        : acc(r, 'unit-l2', k) <= acc(r, 'magnitude', k) + 0.005,
    );

const header = `| k | ${analysed.map((m) => `${m.label}: weight / unit`).join(' | ')} | published A: weight / unit | published B: weight / unit |`;
const rule = `|---|${analysed.map(() => '---|').join('')}---|---|`;
const rows = ks.map((k) => {
  const p = published[k];
  const ours = analysed.map((m) => `${pct(acc(m.results, 'magnitude', k))} / ${pct(acc(m.results, 'unit-l2', k))}`);
  return `| ${Math.round(k * 100)}% | ${ours.join(' | ')} | ${p ? `${p.a[0]} / ${p.a[1]}` : ''} | ${p ? `${p.b[0]} / ${p.b[1]}` : ''} |`;
});
const verdicts = analysed.map((m) => {
  const w90 = acc(m.results, 'magnitude', 0.9);
  return `- ${m.label} (${m.recipe}; test accuracy ${pct(m.results.baseline.accuracy)}): weight pruning keeps ${pct(w90)} at 90% sparsity, target at least 95%: ${w90 >= 0.95 ? '**met**' : '**not met**'}; unit pruning below weight pruning at every k from 70% on: ${unitBelowFrom70(m.results) ? 'yes' : 'no'}.`;
});

// What the pruned challenge models cost: size as ONNX and forward time per batch of 100.
const costed = analysed[0]?.results;
const pointOf = (strategy, k) => costed.runs.find((r) => r.strategy === strategy).points.find((p) => p.sparsity === k);
const mb = (bytes) => (bytes === undefined ? '' : `${(bytes / 1e6).toFixed(2)} MB`);
const ms = (v) => (v === null || v === undefined ? '' : `${v.toFixed(1)} ms`);
const costRows = costed
  ? ks.map((k) => {
      const w = pointOf('magnitude', k);
      const u = pointOf('unit-l2', k);
      return `| ${Math.round(k * 100)}% | ${mb(w.onnxBytes)} | ${ms(w.latency.denseMsPer100)} | ${ms(w.latency.sparseMsPer100)} | ${mb(u.onnxBytes)} | ${ms(u.latency.denseMsPer100)} |`;
    })
  : [];
const costSection = costed
  ? `
## What the pruned models cost

The ${analysed[0].label} pruned at each k: its size as ONNX (\`onnxBytes\`: weights, biases and
the positions of sparse weights; PruneScope's ONNX writer stores a kernel that is mostly zeros as
a sparse initializer, so weight pruning shrinks the file too, though less than removing neurons
does) and the time of one forward pass of 100 images: through the dense kernels (zeros
included) on the ${costed.backend.name} backend, and, for weight pruning, through a CSR sparse
product (${costed.backend.sparseKernel ? 'a WebAssembly SIMD kernel' : 'a JavaScript loop'} on one thread), as the challenge write-up timed
sparse weights. Times are single medians on a shared 2-core machine. The original: ${mb(costed.baseline.onnxBytes)}, ${ms(costed.baseline.latency.denseMsPer100)}.

| k | weight: ONNX | weight: dense | weight: CSR | unit: ONNX | unit: dense |
|---|---|---|---|---|---|
${costRows.join('\n')}
`
  : '';

const doc = `# The pruning challenge: weight vs unit pruning

A 784-1000-1000-500-200-10 MLP (ReLU, softmax output) trained on MNIST by \`prunescope train\`,
pruned layer by layer without retraining, the output layer left alone; accuracy on the 10,000
MNIST test images. Weight pruning zeroes the k% smallest |w| of each layer (\`magnitude\`); unit
pruning removes the k% of each layer's neurons with the smallest L2 norm of their incoming
weights (\`unit-l2\`). Reproduce with \`node scripts/pruning-challenge.mjs\` (it trains the
challenge baseline when it is missing; backend: ${analysed[0]?.results.backend.name}).

${header}
${rule}
${rows.join('\n')}

${verdicts.join('\n')}

The two published solutions report, at k = 90%, 82.4% (weight) / 36.7% (unit) and 95% / 52%.
${costSection}
## What the baseline's training does to weight pruning

How well magnitude pruning works without retraining depends on how the network was trained,
not only on its accuracy. The demo baseline (dropout 0.5, no penalty) loses most of its accuracy
at 90%: dropout spreads what a layer computes over many mid-sized weights, and weights that get
no gradient (the input pixels that are 0 in every training image) keep their Glorot
initialisation, as large as the learned ones, so magnitude says little about importance. Pruning
one layer alone at 90% costs it little (the first layer alone gives 95.0%, any other 98.0%); all
four together compound. A small L1 penalty on the kernels (Keras' \`kernel_regularizer=l1\`,
\`prunescope train --l1\`) drives unneeded weights towards zero during training, so the 90% that
pruning removes carry little of the function; without dropout the network also relies on fewer,
larger weights.

Runs of the same architecture with other recipes, measured once each on 2026-11-22 while
choosing the challenge recipe (seed 1, at most 12-15 epochs, early stopping on validation loss
with patience 3; test accuracy after per-layer magnitude pruning at k = 0 / 80 / 90 / 95%):

| dropout | penalty | 0% | 80% | 90% | 95% |
|---|---|---|---|---|---|
| 0.5 | none (demo baseline) | 98.0% | 96.2% | 61.1% | 9.8% |
| 0.5 | L2 1e-4 | 98.1% | 97.7% | 89.8% | 18.2% |
| 0 | L2 1e-4 | 97.4% | 96.4% | 94.5% | 81.2% |
| 0 | L2 3e-4 | 97.6% | 96.9% | 91.2% | 53.9% |
| 0 | L1 1e-5 | 97.4% | 96.8% | 94.95% | 81.8% |
| 0 | L1 3e-6 (challenge baseline) | 97.9% | 97.7% | 97.0% | 90.8% |

Dropout is what hurts most; a penalty helps; the small L1 penalty gives the most robust network
without costing accuracy. Single runs: differences of a point or two between neighbouring rows are
within what another seed could change.

${KEPT_FROM_HERE}
`;
const docPath = join(root, 'docs', 'pruning-challenge.md');
writeFileSync(docPath, doc + keptPart(docPath));
console.log(readFileSync(docPath, 'utf8'));
