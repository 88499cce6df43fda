import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { prunedCopies } from './compare-pick';
import { prunedOutputPath } from './naming';

test("a model's pruned copies, as Prune Model names them, newest first; nothing else of the folder", () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunescope-compare-pick-'));
  try {
    const model = join(dir, 'model.onnx');
    const at = (name: string, seconds: number) => {
      const path = join(dir, name);
      writeFileSync(path, 'x');
      utimesSync(path, seconds, seconds);
      return path;
    };
    at('model.onnx', 1000);
    const older = at('model.pruned-unit-l2-50.onnx', 2000);
    const newer = at('model.pruned-magnitude-90-ft2.onnx', 3000);
    // Another format the writer chose, and a tfjs copy whose weights file is not a model.
    const tfjs = at('model.pruned-wanda-50.json', 2500);
    at('model.pruned-wanda-50.weights.bin', 2500);
    // Not copies of this model: another stem, a name that only starts alike, a note, a folder.
    at('other.pruned-unit-l2-50.onnx', 4000);
    at('modelx.pruned-unit-l2-50.onnx', 4000);
    at('model.pruned-unit-l2-50.txt', 4000);
    mkdirSync(join(dir, 'model.pruned-folder.onnx'));
    assert.deepEqual(prunedCopies(model), [newer, tfjs, older]);
    // The name Prune Model gives next is one prunedCopies finds.
    const next = prunedOutputPath(model, 'apoz', 0.25);
    at(next.slice(dir.length + 1), 5000);
    assert.equal(prunedCopies(model)[0], next);
    assert.deepEqual(prunedCopies(join(dir, 'gone', 'model.onnx')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
