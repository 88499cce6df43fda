// The README's main job on the bundled MNIST: trains the 784-1000-1000-500-200-10 baseline when
// demo-output/ has none yet, runs the pruning analysis with every strategy, and writes
// demo-output/analysis/results.json and report.html, then writes two pruned models to
// demo-output/pruned/ (magnitude 90% and unit-l2 50%, as ONNX). Bounded to about 10 minutes on 2
// cores: training stops after at most 12 epochs (early stopping usually ends it around 11-14).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'demo-output');
const baseline = join(out, 'baseline');
const model = join(baseline, 'model.json');
const cli = join(root, 'bin', 'prunescope.js');
const started = Date.now();

function run(command, args) {
  console.log(`\n$ ${command === process.execPath ? 'prunescope' : command} ${args.slice(command === process.execPath ? 1 : 0).join(' ')}`);
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const prunescope = (...args) => run(process.execPath, [cli, ...args]);

if (!existsSync(join(root, 'dist', 'cli.js')) || !existsSync(join(root, 'dist', 'webview.js'))) run('npm', ['run', 'build']);
if (!existsSync(model)) {
  prunescope(
    'train',
    '--data',
    'mnist',
    '--hidden',
    '1000,1000,500,200',
    '--dropout',
    '0.5',
    '--epochs',
    '12',
    '--seed',
    '1',
    '--out',
    baseline,
    '--verbose',
  );
} else {
  console.log(`using the baseline already trained in ${baseline} (delete it to train again)`);
}
prunescope('evaluate', model, '--data', 'mnist', '--split', 'test');
prunescope(
  'analyze',
  model,
  '--data',
  'mnist',
  '--strategies',
  'magnitude,unit-l1,unit-l2,apoz,cka,cka-greedy,random',
  '--sparsities',
  '0,0.25,0.5,0.6,0.7,0.8,0.9,0.95,0.97,0.99',
  // The demo's own results, rewritten each run.
  '--force',
  '--out',
  join(out, 'analysis'),
);
// A model file that really is smaller: ONNX stores the zeros of magnitude pruning sparsely, and
// structured pruning removes neurons. --force: these files are the demo's own, rewritten each run.
for (const [strategy, sparsity] of [
  ['magnitude', '0.9'],
  ['unit-l2', '0.5'],
]) {
  prunescope(
    'prune',
    model,
    '--strategy',
    strategy,
    '--sparsity',
    sparsity,
    '--data',
    'mnist',
    '--force',
    '--out',
    join(out, 'pruned', `${strategy}-${Number(sparsity) * 100}.onnx`),
  );
}
console.log(
  `\ndemo finished in ${((Date.now() - started) / 60000).toFixed(1)} minutes; open ${join(out, 'analysis', 'report.html')} in a browser`,
);
