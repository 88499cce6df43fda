import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend } from './backend';
import { trainingCase } from '../../test/kits/threads-case';

before(async () => {
  await initBackend();
});

function runChild(threads: number): { threads: number; problem?: string; backend: string; weights: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(__dirname, '..', '..', 'test', 'kits', 'threads-child.ts'), String(threads)],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  // a hang (pool workers keeping the process alive) shows as a timeout: status null
  assert.equal(r.status, 0, `child exited with ${r.status} (signal ${r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('initWasmThreads', () => {
  test(
    'runs wasm on a thread pool, exits on its own, and trains bitwise like one thread',
    { skip: cpus().length < 2 && 'needs 2 cores' },
    async (t) => {
      const threaded = runChild(2);
      if (threaded.backend !== 'wasm') {
        t.skip(`training ran on ${threaded.backend} (tfjs-node installed), not on the wasm pool`);
        return;
      }
      assert.equal(threaded.problem, undefined);
      assert.equal(threaded.threads, 2);
      const single = runChild(1);
      assert.equal(single.threads, 1);
      assert.equal(threaded.weights, single.weights);
      // and in this process (the test backend), the same weights again
      const mlp = await trainingCase();
      const hash = createHash('sha256');
      for (const l of mlp.layers) hash.update(Buffer.from(l.weights.buffer)).update(Buffer.from(l.bias!.buffer));
      if ((await initBackend()).name === 'wasm') assert.equal(hash.digest('hex'), single.weights);
    },
  );
});
