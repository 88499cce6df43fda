import assert from 'node:assert/strict';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePath, nameTaken, prunedOutputPath, trainingOutputDir } from './naming';

test('a symbolic link that points nowhere still takes its name (the writer would refuse it)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-naming-links-'));
  const model = join(dir, 'model.onnx');
  writeFileSync(model, 'x');
  symlinkSync(join(dir, 'nowhere'), join(dir, 'model.pruned-unit-l2-50.onnx'));
  assert.ok(nameTaken(join(dir, 'model.pruned-unit-l2-50.onnx')));
  assert.ok(!nameTaken(join(dir, 'nowhere')));
  assert.equal(prunedOutputPath(model, 'unit-l2', 0.5), join(dir, 'model.pruned-unit-l2-50-1.onnx'));
  symlinkSync(join(dir, 'gone'), join(dir, 'mlp-4'));
  assert.equal(trainingOutputDir(dir, [4]), join(dir, 'mlp-4-1'));
  // A tfjs output's weights companion counts too, dangling or not.
  symlinkSync(join(dir, 'gone'), join(dir, 'out.weights.bin'));
  assert.equal(freePath(dir, 'out', '.json'), join(dir, 'out-1.json'));
});
