import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import { DataError } from '../errors';
import { labelIndices, parseCsv } from './csv';
import { getSplit, loadDataset } from './load';

const dir = mkdtempSync(join(tmpdir(), 'prunescope-csv-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function throwsData(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof DataError, String(e));
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('CSV parsing', () => {
  test('header detected, label column named "label" anywhere', () => {
    const t = parseCsv('label,a,b\n1,0.5,2\n0,-1,3e2\n', 'h.csv');
    assert.deepEqual(t.header, ['label', 'a', 'b']);
    assert.equal(t.labelIndex, 0);
    assert.equal(t.n, 2);
    assert.equal(t.features, 2);
    assert.deepEqual(Array.from(t.x), [0.5, 2, -1, 300]);
    assert.deepEqual(t.labels, ['1', '0']);
  });

  test('no header: the last column is the label', () => {
    const t = parseCsv('0.1,0.2,3\n0.3,0.4,1\r\n\n0.5,0.6,2', 'n.csv');
    assert.equal(t.header, null);
    assert.equal(t.labelIndex, 2);
    assert.deepEqual(Array.from(t.x), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6].map(Math.fround));
    assert.deepEqual(t.labels, ['3', '1', '2']);
  });

  test('class/target/y names, and the option by name or index', () => {
    assert.equal(parseCsv('x1,Target,x2\n1,0,2\n', 'a').labelIndex, 1);
    assert.equal(parseCsv('x1,x2,Y\n1,0,2\n', 'a').labelIndex, 2);
    assert.equal(parseCsv('class,x\n1,2\n', 'a').labelIndex, 0);
    assert.equal(parseCsv('p,q,r\n1,0,2\n', 'a', { labelColumn: 'q' }).labelIndex, 1);
    assert.equal(parseCsv('p,q,r\n1,0,2\n', 'a', { labelColumn: 'Q' }).labelIndex, 1);
    assert.equal(parseCsv('1,0,2\n', 'a', { labelColumn: 0 }).labelIndex, 0);
    assert.equal(parseCsv('1,0,2\n', 'a', { labelColumn: '1' }).labelIndex, 1);
    assert.equal(parseCsv('1,0,2\n', 'a', { labelColumn: -2 }).labelIndex, 1);
    const unlabelled = parseCsv('1,0,2\n3,4,5\n', 'a', { labelColumn: null });
    assert.equal(unlabelled.labels, null);
    assert.equal(unlabelled.features, 3);
    throwsData(() => parseCsv('p,q\n1,2\n', 'a.csv', { labelColumn: 'z' }), 'a.csv: has no column named "z" (columns: p, q)');
    throwsData(() => parseCsv('1,2\n', 'a.csv', { labelColumn: 'z' }), /a\.csv: has no column named "z" \(the file has no header row/);
    throwsData(() => parseCsv('1,2\n', 'a.csv', { labelColumn: 5 }), 'a.csv: label column 5 is outside the 2 columns');
  });

  test('class names as labels: not taken for a header, numbered in sorted order', () => {
    const t = parseCsv('5.1,3.5,setosa\n6.2,2.9,versicolor\n5.0,3.4,setosa\n', 'iris.csv');
    assert.equal(t.header, null);
    assert.deepEqual(Array.from(labelIndices([t])[0]!), [0, 1, 0]);
    const h = parseCsv('sepal,petal,species\n5.1,3.5,setosa\n', 'iris.csv');
    assert.deepEqual(h.header, ['sepal', 'petal', 'species']);
  });

  test('tab and semicolon separated', () => {
    assert.deepEqual(Array.from(parseCsv('a\tb\tlabel\n1\t2\t0\n', 't').x), [1, 2]);
    assert.deepEqual(Array.from(parseCsv('1;2;0\n3;4;1\n', 's').x), [1, 2, 3, 4]);
  });

  test('bad cells and rows name the file, line and column', () => {
    throwsData(() => parseCsv('a,b,label\n1,,0\n', 'e.csv'), 'e.csv: line 2, column "b": empty cell');
    throwsData(() => parseCsv('1,2,0\n1,x,1\n', 'e.csv'), 'e.csv: line 2, column 1: "x" is not a number');
    throwsData(() => parseCsv('1,2,0\n1,2\n', 'e.csv'), 'e.csv: line 2 has 2 columns, expected 3');
    throwsData(() => parseCsv('1,2,\n', 'e.csv'), 'e.csv: line 1: the label cell is empty');
    throwsData(() => parseCsv('label\n1\n', 'e.csv'), 'e.csv: has no feature columns (only the label column "label")');
    throwsData(() => parseCsv('', 'e.csv'), 'e.csv: is empty');
    throwsData(() => parseCsv('1,"2\n', 'q.csv'), /q\.csv: cannot parse CSV: /);
    throwsData(
      () => labelIndices([parseCsv('1,2,0.5\n1,2,1\n', 'r.csv')]),
      'r.csv: label column 2 holds 0.5 (data row 1); labels must be class indices or class names, not continuous values',
    );
  });
});

describe('CSV through loadDataset', () => {
  test('a single CSV is the test split; getSplit names what exists', async () => {
    const p = file('single.csv', 'f1,f2,label\n0,10,1\n2,30,0\n4,50,1\n');
    const s = await loadDataset(p);
    assert.equal(s.normalization, 'none');
    assert.equal(s.test!.n, 3);
    assert.equal(s.test!.source, `${p}:test`);
    assert.deepEqual(s.test!.sampleShape, [2]);
    assert.deepEqual(Array.from(s.test!.y!), [1, 0, 1]);
    assert.throws(
      () => getSplit(s, 'train'),
      (e: Error) => {
        assert.ok(e instanceof DataError);
        assert.equal(e.message, `${p}: has no train split; it has test (a single file is loaded as the test split)`);
        return true;
      },
    );
    assert.equal(getSplit(s, 'test'), s.test);
  });

  test('pixel CSV (integers 0..255) with unit normalization, gzipped', async () => {
    const p = file('pixels.csv.gz', gzipSync('label,p0,p1\n3,0,255\n1,51,102\n'));
    const s = await loadDataset(p, { normalize: 'unit' });
    assert.deepEqual(Array.from(s.test!.x), [0, 1, 0.2, 0.4].map(Math.fround));
  });

  test('a folder of train/test CSVs shares one class numbering and the zscore stats of train', async () => {
    const d = join(dir, 'iris');
    mkdirSync(d);
    writeFileSync(join(d, 'iris_train.csv'), 'a,b,species\n1,5,setosa\n3,5,virginica\n5,5,versicolor\n');
    writeFileSync(join(d, 'iris_test.csv'), 'a,b,species\n3,5,virginica\n7,5,setosa\n');
    const s = await loadDataset(d, { normalize: 'zscore' });
    // sorted names: setosa 0, versicolor 1, virginica 2, in both files
    assert.deepEqual(Array.from(s.train!.y!), [0, 2, 1]);
    assert.deepEqual(Array.from(s.test!.y!), [2, 0]);
    // train column a: mean 3, population std sqrt(8/3); column b constant -> std 1 -> 0
    const sd = Math.sqrt(8 / 3);
    const close = (got: Float32Array, want: number[]) =>
      want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-6, `${got[i]} vs ${w}`));
    close(s.train!.x, [-2 / sd, 0, 0, 0, 2 / sd, 0]);
    close(s.test!.x, [0, 0, 4 / sd, 0]);
  });

  test('feature counts that differ between files', async () => {
    const d = join(dir, 'uneven');
    mkdirSync(d);
    writeFileSync(join(d, 'train.csv'), '1,2,0\n');
    writeFileSync(join(d, 'test.csv'), '1,0\n');
    await assert.rejects(loadDataset(d), (e: Error) => {
      assert.equal(e.message, `${join(d, 'test.csv')}: has 1 feature columns but ${join(d, 'train.csv')} has 2`);
      return true;
    });
  });
});
