import assert from 'node:assert/strict';
import { test } from 'node:test';
import { centerGram, gramDot } from './gram';

test('gramDot is the sum of the elementwise product at every length (the four running sums and the tail)', () => {
  for (let n = 0; n <= 11; n++) {
    const k = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1) * 3);
    const l = Float64Array.from({ length: n }, (_, i) => Math.cos(2 * i) - 0.25);
    let want = 0;
    for (let i = 0; i < n; i++) want += k[i] * l[i];
    assert.ok(Math.abs(gramDot(k, l) - want) < 1e-12, `length ${n}: ${gramDot(k, l)} vs ${want}`);
  }
});

test('centerGram leaves the rows and columns of a symmetric Gram summing to zero', () => {
  const n = 5;
  const k = Float64Array.from({ length: n * n }, (_, t) => {
    const [i, j] = [Math.floor(t / n), t % n];
    return ((i * j * 7) % 11) + i + j;
  });
  centerGram(k, n);
  for (let i = 0; i < n; i++) {
    let row = 0;
    let col = 0;
    for (let j = 0; j < n; j++) {
      row += k[i * n + j];
      col += k[j * n + i];
    }
    assert.ok(Math.abs(row) < 1e-12 && Math.abs(col) < 1e-12, `row/column ${i}: ${row}, ${col}`);
  }
});
