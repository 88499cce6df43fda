// The README's main job on the bundled MNIST: trains the 784-1000-1000-500-200-10 baseline when
// demo-output/ has none yet, then evaluates it on the test split.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'demo-output');
const baseline = join(out, 'baseline');
const cli = join(root, 'bin', 'prunescope.js');

function run(args) {
  console.log(`\n$ prunescope ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(join(root, 'dist', 'cli.js'))) run0('npm', ['run', 'build']);
if (!existsSync(join(baseline, 'model.json'))) {
  run(['train', '--data', 'mnist', '--hidden', '1000,1000,500,200', '--dropout', '0.5', '--seed', '1', '--out', baseline, '--verbose']);
} else {
  console.log(`using the baseline already trained in ${baseline} (delete it to train again)`);
}
run(['inspect', join(baseline, 'model.json')]);
run(['evaluate', join(baseline, 'model.json'), '--data', 'mnist', '--split', 'test']);

function run0(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
