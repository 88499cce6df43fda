import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layerTrend, type TrendPoint } from './layer-trend';

const names = ['dense', 'dense_1', 'out'];
const at = (sparsity: number, ...similarity: (number | null)[]): TrendPoint => ({
  sparsity,
  layers: similarity.map((s, i) => ({ name: names[i], similarity: s })),
});

describe('layerTrend', () => {
  it('falling with depth: read at the highest sparsity; the first layer below 0.9 as sparsity grows', () => {
    const t = layerTrend([at(0, 1, 1, 1), at(0.5, 0.99, 0.95, 0.88), at(0.9, 0.95, 0.93, 0.67)])!;
    assert.equal(t.sparsity, 0.9);
    assert.deepEqual(t.values, [0.95, 0.93, 0.67]);
    assert.equal(t.fallsWithDepth, true);
    assert.equal(t.lowest, 'out');
    assert.deepEqual(t.firstBelow, { layer: 'out', sparsity: 0.5 });
    assert.equal(
      t.summary,
      'at 90% the similarity to the original falls layer by layer, dense 0.950 to out 0.670; out drops below 0.9 first, at 50%',
    );
  });

  it('not falling with depth; a rise within 0.005 still counts as falling; none below the threshold', () => {
    const t = layerTrend([at(0.5, 0.91, 0.97, 0.95)])!;
    assert.equal(t.fallsWithDepth, false);
    assert.equal(t.lowest, 'dense');
    assert.equal(t.firstBelow, null);
    assert.match(
      t.summary,
      /lowest in dense \(0\.910\), not falling layer by layer \(0\.910, 0\.970, 0\.950\); every layer stays at or above 0\.9$/,
    );
    assert.equal(layerTrend([at(0.5, 0.95, 0.954, 0.9)])!.fallsWithDepth, true);
  });

  it('two layers crossing at once: the deeper is named; points without every similarity are skipped; none at all gives null', () => {
    const t = layerTrend([at(0.6, 0.85, 0.8, 0.95), at(0.8, 0.7, null, 0.5)])!;
    assert.equal(t.sparsity, 0.6, 'the 80% point lacks a layer');
    assert.deepEqual(t.firstBelow, { layer: 'dense_1', sparsity: 0.6 });
    assert.equal(layerTrend([at(0.5, null, 0.9, 0.8)]), null);
    assert.equal(layerTrend([]), null);
  });
});
