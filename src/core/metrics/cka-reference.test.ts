import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend } from '../backend';
import { svcca } from './cca';
import { debiasedCKA, linearCKA, linearCKAGram, rbfCKA } from './cka';
import { rbfGramFromLinear } from './gram';
import type { Matrix } from './matrix';
import { referenceActivations } from '../../../test/kits/metrics';

interface RefCase {
  x: string;
  y: string;
  [value: string]: string | number;
}

/** The activations README-cka.md describes, on the backend the tests use. */
async function activations(): Promise<Map<string, Matrix>> {
  await initBackend();
  return referenceActivations();
}

describe("CKA agrees with Kornblith et al.'s reference code on MNIST activations (testdata/cka-reference.json)", () => {
  const ref = JSON.parse(readFileSync(join(__dirname, 'testdata', 'cka-reference.json'), 'utf8')) as { cases: RefCase[] };
  let acts: Map<string, Matrix>;
  before(async () => {
    acts = await activations();
  });
  const close = (got: number, want: number, what: string) =>
    assert.ok(Math.abs(got - want) <= 1e-6, `${what}: ${got} vs reference ${want}`);

  for (const c of ref.cases) {
    test(`${c.x} against ${c.y}: linear, debiased and RBF (reference bandwidth)`, () => {
      const [x, y] = [acts.get(c.x)!, acts.get(c.y)!];
      close(linearCKA(x, y, { form: 'feature' }), c.linearFeatures as number, 'linear CKA, feature space');
      close(linearCKAGram(x, y), c.linearExamples as number, 'linear CKA, Gram matrices');
      close(debiasedCKA(x, y), c.debiasedFeatures as number, 'debiased linear CKA');
      for (const t of ['1.0', '0.5']) {
        const options = { threshold: Number(t), bandwidthMedian: 'matrix' as const };
        close(rbfCKA(x, y, options), c[`rbf${t}`] as number, `RBF CKA, threshold ${t}`);
        close(rbfCKA(x, y, { ...options, debiased: true }), c[`rbfDebiased${t}`] as number, `debiased RBF CKA, threshold ${t}`);
      }
    });
  }

  test("the default bandwidth (median over distinct pairs) differs from the reference's, as documented", () => {
    const [x, y] = [acts.get('a1')!, acts.get('c1')!];
    const ours = rbfCKA(x, y, { threshold: 0.5 });
    const theirs = ref.cases.find((c) => c.x === 'a1' && c.y === 'c1')!['rbf0.5'] as number;
    // At n = 500 the medians differ little (1.8e-5 in CKA here): more than the tolerance above, far less than any reading of it.
    assert.ok(Math.abs(ours - theirs) > 1e-6 && Math.abs(ours - theirs) < 1e-3, `${ours} vs ${theirs}`);
  });

  test('the two bandwidth medians, hand-worked: points 0, 1 and 3 on a line', () => {
    // Squared distances 1, 9, 4. Distinct pairs: median 4. The 3 x 3 matrix: 0 0 0 1 1 4 4 9 9, median 1.
    const centred = [-4 / 3, -1 / 3, 5 / 3];
    const gram = () => Float64Array.from({ length: 9 }, (_, k) => centred[Math.floor(k / 3)] * centred[k % 3]);
    const pairs = rbfGramFromLinear(gram(), 3, 1, 'X', 'pairs');
    const matrix = rbfGramFromLinear(gram(), 3, 1, 'X', 'matrix');
    assert.ok(Math.abs(pairs[1] - Math.exp(-1 / 8)) < 1e-12, `pairs: ${pairs[1]}`);
    assert.ok(Math.abs(matrix[1] - Math.exp(-1 / 2)) < 1e-12, `matrix: ${matrix[1]}`);
  });
});

describe('SVCCA agrees with google/svcca on MNIST activations (testdata/svcca-reference.json)', () => {
  const ref = JSON.parse(readFileSync(join(__dirname, 'testdata', 'svcca-reference.json'), 'utf8')) as {
    cases: { x: string; y: string; keptX: number; keptY: number; svcca: number }[];
  };
  let acts: Map<string, Matrix>;
  before(async () => {
    acts = await activations();
  });
  for (const c of ref.cases) {
    test(`${c.x} against ${c.y} (${c.keptX} and ${c.keptY} directions kept)`, () => {
      const got = svcca(acts.get(c.x)!, acts.get(c.y)!);
      assert.ok(Math.abs(got - c.svcca) <= 1e-6, `${got} vs reference ${c.svcca}`);
    });
  }
});
