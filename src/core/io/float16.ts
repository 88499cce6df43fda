/**
 * IEEE 754 half precision (binary16) to numbers: the one decoder of every reader that meets half
 * floats (npy float16, safetensors F16, ONNX FLOAT16, tfjs float16 quantization). Every half is
 * exactly representable as a float32, so decoding is exact: no rounding, subnormals kept,
 * ±Infinity and NaN kept, the sign of zero kept.
 */

/** The value of the half whose bits (the low 16) are `bits`. */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  // Subnormal (and zero): no implicit leading 1, the smallest exponent.
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Halves, one per element of `bits`, as float32. */
export function float16ArrayToFloat32(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16ToNumber(bits[i]);
  return out;
}
