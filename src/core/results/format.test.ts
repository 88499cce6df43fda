import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../../test/fixtures';
import { baselineSchema, comparisonSideSchema, parseResults, RESULTS_VERSION, ResultsFormatError, type LayerGeometry } from './format';

// A results file written by `prunescope analyze` before geometry existed (the fuzzer's seed, test/fuzz/seeds/).
const OLD_FILE = join(repoRoot, 'test', 'fuzz', 'seeds', 'results.json');
const oldText = readFileSync(OLD_FILE, 'utf8');

const geometry: LayerGeometry[] = [
  {
    layer: 'Gemm_2',
    applies: true,
    samples: 300,
    units: 10,
    step: 4,
    ascending: [
      { k: 4, r2: 0.66 },
      { k: 8, r2: 0.99 },
      { k: 10, r2: 1 },
    ],
    descending: [
      { k: 4, r2: 0.02 },
      { k: 8, r2: 0.56 },
      { k: 10, r2: 1 },
    ],
  },
  {
    layer: 'Gemm_4',
    applies: false,
    reason: 'geometry adds units in APoZ order, and APoZ counts exact zeros after a ReLU-like activation',
  },
];

function withGeometry(g: unknown): string {
  const json = JSON.parse(oldText);
  json.baseline.geometry = g;
  return JSON.stringify(json);
}

function refused(text: string, source: string, pattern: RegExp): void {
  assert.throws(
    () => parseResults(text, source),
    (e: unknown) => e instanceof ResultsFormatError && e.message.startsWith(`${source}: `) && pattern.test(e.message),
  );
}

describe('results format', () => {
  it('reads a version-1 file written before geometry existed, without geometry', () => {
    const r = parseResults(oldText, OLD_FILE);
    assert.equal(r.version, 1);
    assert.equal(r.kind, 'analysis');
    if (r.kind !== 'analysis') return;
    assert.equal(r.baseline.geometry, undefined);
    assert.deepEqual(r.model.layerNames, ['Gemm_2', 'Gemm_4', 'Gemm_6']);
    assert.ok(r.runs.length > 0);
  });

  it('geometry is an optional version-1 field: still version 1, read back as written', () => {
    // Optional and additive: a version-1 reader without it drops it (zod objects strip unknown keys).
    assert.equal(RESULTS_VERSION, 1);
    const r = parseResults(withGeometry(geometry), 'with-geometry.json');
    assert.ok(r.kind === 'analysis');
    assert.deepEqual(r.baseline.geometry, geometry);
    // The version-1 schemas as they were before: they accept the new file and drop the field.
    const before = baselineSchema.omit({ geometry: true }).safeParse(r.baseline);
    assert.ok(before.success);
    assert.equal('geometry' in before.data, false);
    const side = { model: r.model, apoz: r.baseline.apoz, selfSimilarity: r.baseline.similarityMatrix, geometry };
    const oldSide = comparisonSideSchema.omit({ geometry: true }).safeParse(side);
    assert.ok(oldSide.success);
    assert.equal('geometry' in oldSide.data, false);
    assert.deepEqual(comparisonSideSchema.parse(side).geometry, geometry);
  });

  it('refuses malformed geometry with the path of the field', () => {
    const bad = (g: unknown, pattern: RegExp) => refused(withGeometry(g), 'bad-geometry.json', pattern);
    const [ok] = geometry;
    bad([{ ...ok, ascending: [{ k: 4, r2: 1.5 }] }], /baseline\.geometry\.0\.ascending\.0\.r2/);
    bad([{ ...ok, ascending: [{ k: 0, r2: 0.5 }] }], /baseline\.geometry\.0\.ascending\.0\.k/);
    bad([{ ...ok, samples: 2 }], /baseline\.geometry\.0\.samples/);
    // applies: false must say why; applies: true must carry the curves.
    bad([{ layer: 'x', applies: false }], /baseline\.geometry\.0\.reason/);
    bad([{ layer: 'x', applies: true, reason: 'none' }], /baseline\.geometry\.0\.(samples|units|step|ascending|descending)/);
    bad([{ ...ok, ascending: [{ k: 4, r2: null }] }], /baseline\.geometry\.0\.ascending\.0\.r2/);
  });

  it('refuses a file of an older, unknown or newer version, or without one, naming the file', () => {
    const as = (version: unknown) => {
      const json = JSON.parse(oldText);
      if (version === undefined) delete json.version;
      else json.version = version;
      return JSON.stringify(json);
    };
    refused(as(0), 'v0/results.json', /unknown results format version 0/);
    refused(as(-3), 'neg/results.json', /unknown results format version -3/);
    refused(as(undefined), 'noversion/results.json', /has no version number/);
    refused(as('1'), 'string/results.json', /has no version number/);
    refused(as(1.5), 'fraction/results.json', /has no version number/);
    refused(
      as(RESULTS_VERSION + 1),
      'newer/results.json',
      new RegExp(`version ${RESULTS_VERSION + 1} was written by a newer PruneScope; this one reads version ${RESULTS_VERSION}`),
    );
  });

  it('refuses what is not a results file, naming the file', () => {
    refused('{"format": "something-else", "version": 1}', 'other.json', /not a PruneScope results file/);
    refused('not json', 'text.json', /invalid JSON/);
    refused('null', 'null.json', /not a PruneScope results file/);
  });
});
