import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { outputFiles } from '../core/formats/model-files';
import { percentLabel, prunedOutputPath, samePrunedPath, trainingOutputDir } from './naming';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'prunescope-naming-'));
}

test('a pruned model is named after what was done, beside the original', () => {
  const dir = tempDir();
  const model = join(dir, 'model.onnx');
  writeFileSync(model, 'x');
  assert.equal(prunedOutputPath(model, 'unit-l2', 0.5), join(dir, 'model.pruned-unit-l2-50.onnx'));
  assert.equal(prunedOutputPath(join(dir, 'net.safetensors'), 'magnitude', 0.125), join(dir, 'net.pruned-magnitude-12.5.safetensors'));
});

test('a chosen format changes the extension and so the writer; its companions must be free too', () => {
  const dir = tempDir();
  const model = join(dir, 'net.safetensors');
  writeFileSync(model, 'x');
  assert.equal(prunedOutputPath(model, 'magnitude', 0.9, { format: 'onnx' }), join(dir, 'net.pruned-magnitude-90.onnx'));
  assert.equal(prunedOutputPath(model, 'magnitude', 0.9, { format: 'same' }), join(dir, 'net.pruned-magnitude-90.safetensors'));
  writeFileSync(join(dir, 'net.pruned-magnitude-90.weights.bin'), 'old');
  assert.equal(prunedOutputPath(model, 'magnitude', 0.9, { format: 'tfjs' }), join(dir, 'net.pruned-magnitude-90-1.json'));
});

test('PyTorch and Keras sources keep their format; names no writer takes get the one that writes it', () => {
  const dir = tempDir();
  assert.equal(prunedOutputPath(join(dir, 'net.pth'), 'unit-l2', 0.5), join(dir, 'net.pruned-unit-l2-50.pth'));
  assert.equal(prunedOutputPath(join(dir, 'pytorch_model.bin'), 'unit-l2', 0.5), join(dir, 'pytorch_model.pruned-unit-l2-50.pt'));
  assert.equal(prunedOutputPath(join(dir, 'last.ckpt'), 'unit-l2', 0.5), join(dir, 'last.pruned-unit-l2-50.pt'));
  assert.equal(prunedOutputPath(join(dir, 'mlp.h5'), 'unit-l2', 0.5), join(dir, 'mlp.pruned-unit-l2-50.keras'));
  assert.equal(prunedOutputPath(join(dir, 'mlp.keras'), 'unit-l2', 0.5), join(dir, 'mlp.pruned-unit-l2-50.keras'));
  assert.equal(prunedOutputPath(join(dir, 'mlp.onnx'), 'unit-l2', 0.5, { format: 'pytorch' }), join(dir, 'mlp.pruned-unit-l2-50.pt'));
  assert.equal(prunedOutputPath(join(dir, 'mlp.onnx'), 'unit-l2', 0.5, { format: 'keras' }), join(dir, 'mlp.pruned-unit-l2-50.keras'));
});

test('existing files are never overwritten: -1, -2, ... are added', () => {
  const dir = tempDir();
  const model = join(dir, 'model.onnx');
  writeFileSync(model, 'x');
  writeFileSync(join(dir, 'model.pruned-unit-l2-50.onnx'), 'old');
  assert.equal(prunedOutputPath(model, 'unit-l2', 0.5), join(dir, 'model.pruned-unit-l2-50-1.onnx'));
  writeFileSync(join(dir, 'model.pruned-unit-l2-50-1.onnx'), 'old');
  assert.equal(prunedOutputPath(model, 'unit-l2', 0.5), join(dir, 'model.pruned-unit-l2-50-2.onnx'));
});

test('a tfjs model.json needs its weights file name free as well', () => {
  const dir = tempDir();
  const model = join(dir, 'model.json');
  writeFileSync(model, '{}');
  // Only the weights of the first candidate exist: writing it would replace them.
  writeFileSync(join(dir, 'model.pruned-apoz-30.weights.bin'), 'old');
  const out = prunedOutputPath(model, 'apoz', 0.3);
  assert.equal(out, join(dir, 'model.pruned-apoz-30-1.json'));
  assert.deepEqual(outputFiles(out), [out, join(dir, 'model.pruned-apoz-30-1.weights.bin')]);
  assert.deepEqual(outputFiles(join(dir, 'a.onnx')), [join(dir, 'a.onnx')]);
});

test('strategy names cannot put path separators into the output name', () => {
  const dir = tempDir();
  const out = prunedOutputPath(join(dir, 'm.onnx'), '../evil/x', 0.5, { exists: () => false });
  assert.equal(out, join(dir, 'm.pruned-_evil_x-50.onnx'));
});

test('percent labels and training folders', () => {
  assert.equal(percentLabel(0.5), '50');
  assert.equal(percentLabel(0.333333), '33.3');
  assert.equal(percentLabel(0), '0');
  const taken = new Set(['/w/models/mlp-100-50']);
  assert.equal(
    trainingOutputDir('/w/models', [100, 50], (p) => taken.has(p)),
    '/w/models/mlp-100-50-1',
  );
});

test('pruning with the same strategy and sparsity names the same file, taken or not', () => {
  const dir = tempDir();
  const model = join(dir, 'model.onnx');
  writeFileSync(model, 'x');
  const same = join(dir, 'model.pruned-unit-l2-50.onnx');
  assert.equal(samePrunedPath(model, 'unit-l2', 0.5), same);
  // Taken, it is still the name: that is how the earlier result is found; a new free one gets -1.
  writeFileSync(same, 'earlier');
  assert.equal(samePrunedPath(model, 'unit-l2', 0.5), same);
  assert.equal(prunedOutputPath(model, 'unit-l2', 0.5), join(dir, 'model.pruned-unit-l2-50-1.onnx'));
  assert.equal(samePrunedPath(model, 'magnitude', 0.9, { format: 'tfjs' }), join(dir, 'model.pruned-magnitude-90.json'));
  assert.equal(samePrunedPath(join(dir, 'last.ckpt'), 'unit-l2', 0.5), join(dir, 'last.pruned-unit-l2-50.pt'));
});
