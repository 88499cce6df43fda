import assert from 'node:assert/strict';
import { test } from 'node:test';
import { float16ArrayToFloat32, float16ToNumber } from './float16';

/** float32 bits of the half `h`, built by moving its fields (an independent reference). */
function referenceFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  let exp = (h >> 10) & 0x1f;
  let frac = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (frac << 13)) >>> 0;
  if (exp === 0) {
    if (frac === 0) return sign >>> 0;
    // Normalise a subnormal: shift until the implicit bit appears.
    exp = 1;
    while ((frac & 0x400) === 0) {
      frac <<= 1;
      exp--;
    }
    frac &= 0x3ff;
  }
  return (sign | ((exp - 15 + 127) << 23) | (frac << 13)) >>> 0;
}

const bitsOf = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

test('float16: known values, subnormals, zeros, infinities and NaN', () => {
  const known: [number, number][] = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x3bff, 0.99951171875],
    [0x7bff, 65504],
    [0xfbff, -65504],
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  for (const [bits, value] of known) assert.equal(float16ToNumber(bits), value, `0x${bits.toString(16)}`);
  assert.ok(Object.is(float16ToNumber(0x8000), -0));
  for (const nan of [0x7c01, 0x7e00, 0x7fff, 0xfe00, 0xffff]) assert.ok(Number.isNaN(float16ToNumber(nan)), `0x${nan.toString(16)}`);
});

test('float16: every one of the 65536 halves decodes exactly, as float32 bits', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const decoded = float16ArrayToFloat32(all);
  const bits = bitsOf(decoded);
  for (let h = 0; h < 65536; h++) {
    const exp = (h >> 10) & 0x1f;
    if (exp === 0x1f && (h & 0x3ff) !== 0) {
      assert.ok(Number.isNaN(decoded[h]), `0x${h.toString(16)}`);
      continue;
    }
    if (bits[h] !== referenceFloat32Bits(h))
      assert.fail(`0x${h.toString(16)}: got 0x${bits[h].toString(16)}, expected 0x${referenceFloat32Bits(h).toString(16)}`);
    assert.equal(decoded[h], float16ToNumber(h));
  }
});
