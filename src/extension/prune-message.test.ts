import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobResult } from '../shared/jobs';
import { pruneNotification } from './prune-message';

function result(patch: Partial<JobResult<'prune'>>): JobResult<'prune'> {
  return {
    out: '/w/models/mnist.pruned-unit-l2-70.onnx',
    files: ['/w/models/mnist.pruned-unit-l2-70.onnx'],
    bytesBefore: 2 * 1024 * 1024,
    bytesAfter: 0.5 * 1024 * 1024,
    strategy: 'unit-l2',
    kind: 'structured',
    sparsity: 0.7,
    compensated: true,
    actualSparsity: 0.7,
    layers: [],
    notes: [],
    ...patch,
  };
}

test('Prune Model says the accuracy before and after, and that the weights were refit', () => {
  const before = { accuracy: 0.9817, loss: 0.06, samples: 10_000 };
  const after = { accuracy: 0.9755, loss: 0.08, samples: 10_000, agreement: 0.98 };
  assert.equal(
    pruneNotification(result({ before, after })),
    'PruneScope: wrote mnist.pruned-unit-l2-70.onnx (2.00 MB → 0.50 MB, accuracy 98.2% → 97.5%, compensated).',
  );
  // Without compensation, the plain drop.
  assert.equal(
    pruneNotification(result({ before, after: { ...after, accuracy: 0.291 }, compensated: false })),
    'PruneScope: wrote mnist.pruned-unit-l2-70.onnx (2.00 MB → 0.50 MB, accuracy 98.2% → 29.1%).',
  );
  // No data, no accuracy.
  assert.equal(pruneNotification(result({ compensated: false })), 'PruneScope: wrote mnist.pruned-unit-l2-70.onnx (2.00 MB → 0.50 MB).');
  assert.equal(
    pruneNotification(result({}), 'auto'),
    'PruneScope: wrote mnist.pruned-unit-l2-70.onnx (2.00 MB → 0.50 MB, compensated, auto picked unit-l2).',
  );
});

test('Prune Model says why unstructured pruning left the file as large, and what to change', () => {
  const text = pruneNotification(
    result({ out: '/w/m.pruned-magnitude-50.safetensors', kind: 'unstructured', bytesAfter: 2 * 1024 * 1024, compensated: false }),
  );
  assert.equal(
    text,
    'PruneScope: wrote m.pruned-magnitude-50.safetensors (2.00 MB → 2.00 MB). The file keeps its size because this format stores every zero; set prunescope.pruneFormat to "onnx" to store them sparsely, or use a structured strategy.',
  );
  assert.match(
    pruneNotification(result({ out: '/w/m.onnx', kind: 'unstructured', bytesAfter: 1.9 * 1024 * 1024 })),
    /because few weights are zero/,
  );
});
