/**
 * Seeded pseudo-random numbers for training: weight init, shuffling and dropout masks.
 * tfjs's own seeded ops draw through seedrandom in JS and are several times slower than this
 * for the ~1.4M dropout decisions a batch needs, and a private generator per purpose keeps
 * (say) the shuffle order independent of whether dropout is on.
 */

/** sfc32: small, fast, 128-bit state, passes PractRand; plenty for ML randomness. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `stream` separates independent sequences drawn from the same seed. */
  constructor(seed: number, stream = 0) {
    // splitmix32 spreads nearby seeds over the state
    let s = (Math.floor(seed) ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /**
   * Inverted-dropout mask as Keras applies it: each entry is 0 with probability `rate`, else
   * 1/(1-rate), so the expected activation is unchanged. Each decision uses 16 random bits
   * (the rate is honoured to 1/65536) and the loop is branchless with the generator inlined:
   * a batch of the 1000-1000-500-200 network needs 1.4M decisions, and a plain loop over
   * uint32() with an unpredictable branch took ~25 ms of a ~250 ms training step.
   */
  dropoutMask(out: Float32Array, rate: number): Float32Array {
    const threshold = Math.round(rate * 65536);
    // index 1 (dropped) when the 16-bit value is below the threshold
    const values = new Float32Array([1 / (1 - rate), 0]);
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      out[i] = values[((t & 0xffff) - threshold) >>> 31];
      if (i + 1 < n) out[i + 1] = values[((t >>> 16) - threshold) >>> 31];
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
    return out;
  }
}

/** Keras glorot_uniform: U(-l, l) with l = sqrt(6 / (fanIn + fanOut)). */
export function glorotUniform(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const w = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < w.length; i++) w[i] = (rng.next() * 2 - 1) * limit;
  return w;
}
