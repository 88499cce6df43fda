import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { availableParallelism } from 'node:os';
import { centeredColumns, gramInputBuffer, gramOfColumns, lastGramStats, setParallelGram } from './gram';
import { plainRowGram as plainGram } from '../../../test/kits/metrics';
import { correlatedOutputs } from '../../../test/kits/prune';

describe('Gram matrix of centered columns', () => {
  after(() => setParallelGram(availableParallelism() > 1));

  it('centers in float64 and turns constant columns into exact zeros', () => {
    const n = 5;
    const z = Float32Array.from([0.1, 1, 3, 0.1, 2, 3, 0.1, 3, 3, 0.1, 4, 3, 0.1, 5, 3]);
    const xt = centeredColumns(z, n, 3);
    assert.deepEqual([...xt.subarray(0, 5)], [0, 0, 0, 0, 0]);
    assert.deepEqual([...xt.subarray(5, 10)], [-2, -1, 0, 1, 2]);
    assert.deepEqual([...xt.subarray(10, 15)], [0, 0, 0, 0, 0]);
  });

  it('equals plain dot products bit for bit, serial and on two threads, for any p and n', () => {
    for (const [n, p] of [
      [7, 1],
      [33, 6],
      [257, 131],
      [512, 301],
    ]) {
      const z = correlatedOutputs(n, p, p);
      const expected = plainGram(centeredColumns(z, n, p), p, n);
      for (const parallel of [false, true]) {
        setParallelGram(parallel);
        const xt = centeredColumns(z, n, p, gramInputBuffer(p, n));
        const c = gramOfColumns(xt, p, n);
        assert.deepEqual(c, expected, `n = ${n}, p = ${p}, ${parallel ? 'two threads' : 'one thread'}`);
        if (parallel && p === 301 && availableParallelism() > 1)
          assert.ok(xt.buffer instanceof SharedArrayBuffer, 'the large case is set up for two threads');
      }
    }
    // The helper thread's copy of the kernel (run from its source text) gives the same bits.
    if (availableParallelism() > 1) {
      setParallelGram(true);
      const z = correlatedOutputs(512, 400, 9);
      const xt = centeredColumns(z, 512, 400, gramInputBuffer(400, 512));
      const c = gramOfColumns(xt, 400, 512, { helperOnly: true });
      assert.deepEqual(lastGramStats(), { blocks: 100, helperBlocks: 100 });
      assert.deepEqual(c, plainGram(centeredColumns(z, 512, 400), 400, 512));
    }
  });
});
