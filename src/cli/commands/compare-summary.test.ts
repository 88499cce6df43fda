import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ComparisonResults } from '../../core/results/format';
import { sampleComparison } from '../../../webview-ui/src/sample-results';
import { compareSummary, crossHeading } from './compare-summary';

function withNumbers(): ComparisonResults {
  const r = sampleComparison();
  r.dataset = { ...r.dataset, name: 'mnist', activationSplit: 'validation', activationSamples: 512 };
  r.agreement = 0.9375;
  r.a.evaluation = { accuracy: 0.97, loss: 0.1 };
  r.b.evaluation = { accuracy: 0.955, loss: 0.125 };
  r.a.size = { parameters: 8070, nonzeroParameters: 8070, flops: 16080, onnxBytes: 32280 };
  r.b.size = { parameters: 8070, nonzeroParameters: 4035, flops: 8040, onnxBytes: 24000 };
  return r;
}

/** The cells of the table's row named `name`. */
function row(text: string, name: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`${name}  `));
  assert.ok(line, `no row ${name} in\n${text}`);
  return line
    .slice(name.length)
    .trim()
    .split(/\s{2,}/);
}

describe('compareSummary', () => {
  test('A vs B: accuracy, loss, size and agreement, with B - A worked out', () => {
    const text = compareSummary(withNumbers());
    assert.match(text, /^A vs B on 512 validation samples of mnist:/);
    assert.deepEqual(row(text, 'accuracy'), ['97.00%', '95.50%', '-1.50 points']);
    assert.deepEqual(row(text, 'loss (cross-entropy)'), ['0.1000', '0.1250', '+0.0250']);
    assert.deepEqual(row(text, 'parameters (non-zero)'), ['8,070', '4,035', '-50.0%']);
    assert.deepEqual(row(text, 'parameters (total)'), ['8,070', '8,070', '±0.0%']);
    assert.deepEqual(row(text, 'FLOPs per sample (non-zero)'), ['16,080', '8,040', '-50.0%']);
    // 24000 / 32280 = 0.7435: 25.7% fewer bytes.
    assert.deepEqual(row(text, 'ONNX weight bytes'), ['32,280', '24,000', '-25.7%']);
    assert.match(text, /agreement: B predicts what A predicts on 93\.75% of the samples/);
  });

  test('a file from before these numbers shows the parameters it has and says nothing else', () => {
    const text = compareSummary(sampleComparison());
    assert.deepEqual(row(text, 'parameters (total)'), ['8,070', '3,985', '-50.6%']);
    assert.doesNotMatch(text, /^accuracy|agreement:/m);
    assert.match(text, /no accuracy, loss or agreement/);
  });

  test('the heatmap is named in words', () => {
    assert.equal(
      crossHeading(withNumbers()),
      "Layer similarity: A's layers (rows) vs B's layers (columns), linear-cka, on 512 validation samples:",
    );
  });
});
