import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StudyResults } from './format';
import { studyToCsv } from './study-csv';

/** Only the fields the table reads; the rest of a study does not matter to it. */
function study(): StudyResults {
  const model = (id: string, hidden: number[], dropout: number, accuracy: number) =>
    ({ id, hidden, dropout, analysis: { baseline: { accuracy } } }) as unknown as StudyResults['models'][number];
  return {
    settings: { strategies: ['cka', 'unit-l1'] },
    models: [model('w16-d1-p0', [16], 0, 0.9), model('w8-d1-p0', [8], 0, 0.8)],
    summary: [
      {
        factor: 'width',
        values: [
          {
            value: 16,
            model: 'w16-d1-p0',
            gaps: [
              { sparsity: 0.5, gap: 0.02, a: 0.87, b: 0.85 },
              { sparsity: 0.9, gap: null, a: 0.5, b: null },
            ],
          },
          { value: 8, model: 'w8-d1-p0', gaps: [{ sparsity: 0.5, gap: -0.01, a: 0.7, b: 0.71 }] },
        ],
      },
    ],
  } as unknown as StudyResults;
}

test('a row per factor, value and sparsity, the gap beside both accuracies; an absent point leaves its cells empty', () => {
  assert.equal(
    studyToCsv(study()),
    [
      'factor,value,model,hidden,dropout,baseline_accuracy,sparsity,accuracy_cka,accuracy_unit-l1,gap',
      'width,16,w16-d1-p0,16,0,0.9,0.5,0.87,0.85,0.02',
      'width,16,w16-d1-p0,16,0,0.9,0.9,0.5,,',
      'width,8,w8-d1-p0,8,0,0.8,0.5,0.7,0.71,-0.01',
      '',
    ].join('\n'),
  );
});
