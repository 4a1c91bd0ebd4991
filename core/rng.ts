/**
 * Seeded random numbers for every stochastic part of prefrl.
 *
 * Generator: xoshiro128** (Blackman & Vigna), 128 bits of state, period 2^128 - 1.
 * Seeding: the seed (a number or string) is hashed into the 128-bit state (four mixed 32-bit
 * lanes, each passed through splitmix32), so nearby seeds give unrelated streams.
 *
 * Streams: `fork(key)` derives an independent child generator from the *seed path*
 * of its parent (not from its current state), so a child's numbers do not depend on
 * how many numbers the parent has drawn. `new Rng(1).fork('env').fork(3)` is always
 * the same stream, whatever else the program did before.
 *
 * No library code calls Math.random: a generator is created from a user seed and
 * passed in.
 */

/** Serialisable generator state, for checkpoints. */
export interface RngState {
  readonly path: string;
  readonly s: readonly [number, number, number, number];
  readonly spare: number | null;
}

/**
 * Hash a seed path into 128 bits: four multiplicative lanes over the UTF-16 code units, each
 * lane mixing in its neighbour, then a murmur3-style avalanche per lane. Streams derived from
 * similar paths ("1/env/3", "1/env/4") start from unrelated states.
 */
function hash128(text: string): [number, number, number, number] {
  let h1 = 0x6a09e667;
  let h2 = 0xbb67ae85;
  let h3 = 0x3c6ef372;
  let h4 = 0xa54ff53a;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ c, 0x9e3779b1);
    h2 = h3 ^ Math.imul(h2 ^ c, 0x85ebca77);
    h3 = h4 ^ Math.imul(h3 ^ c, 0xc2b2ae3d);
    h4 = h1 ^ Math.imul(h4 ^ c, 0x27d4eb2f);
  }
  const fin = (h: number, salt: number): number => {
    let z = (h ^ salt ^ text.length) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  return [fin(h1, h3), fin(h2, h4), fin(h3, h1), fin(h4, h2)];
}

function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) >>> 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Rng {
  /** The seed path this generator was derived from, e.g. "7/env/3". */
  readonly path: string;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Second normal deviate of the last Box-Muller pair, or null. */
  private spare: number | null = null;

  constructor(seed: number | string) {
    // A missing seed was read as the text "undefined" (an object as "[object Object]"): every
    // `new Rng()` of a script drew the same stream without a word that it had no seed.
    if (typeof seed !== 'number' && typeof seed !== 'string') {
      throw new TypeError(`Rng: seed must be a finite number or a string, got ${seed === null || seed === undefined ? String(seed) : typeof seed}`);
    }
    if (typeof seed === 'number' && !Number.isFinite(seed)) {
      throw new RangeError(`Rng: seed must be a finite number or a string, got ${seed}`);
    }
    this.path = String(seed);
    // Each 128-bit hash lane seeds one state word through splitmix32 (decorrelates the lanes).
    const lanes = hash128(this.path);
    this.s0 = splitmix32({ x: lanes[0] });
    this.s1 = splitmix32({ x: lanes[1] });
    this.s2 = splitmix32({ x: lanes[2] });
    this.s3 = splitmix32({ x: lanes[3] });
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** An independent generator for a named sub-stream (depends only on this generator's path and key). */
  fork(key: string | number): Rng {
    // fork() without a key forked "<path>/undefined": two such calls gave one stream, not two.
    if (typeof key !== 'string' && !(typeof key === 'number' && Number.isFinite(key))) {
      throw new TypeError(`Rng.fork: key must be a string or a finite number (e.g. rng.fork('policy')), got ${key === null || key === undefined ? String(key) : typeof key === 'number' ? key : typeof key}`);
    }
    return new Rng(`${this.path}/${key}`);
  }

  /** Next raw 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform float in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = Math.floor(2 ** 32 / n) * n;
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal deviate (Box-Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[];
  shuffle<A extends Int32Array | Uint32Array | Float64Array | Float32Array>(items: A): A;
  shuffle<T>(items: T[] | Int32Array | Uint32Array | Float64Array | Float32Array): typeof items {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** k distinct indices from 0..n-1 (k <= n), in random order. */
  sampleWithoutReplacement(n: number, k: number): Int32Array {
    if (k > n) throw new RangeError(`Rng.sampleWithoutReplacement: k=${k} > n=${n}`);
    return this.permutation(n).subarray(0, k);
  }

  /** One element of a non-empty array. */
  choice<T>(items: readonly T[]): T {
    // A Set or a Map (no length) failed as "Rng.int: n must be an integer ..., got undefined".
    if (typeof (items as { length?: unknown } | null)?.length !== 'number') throw new TypeError(`Rng.choice: items must be an array (Array.from a Set or a Map first), got ${items === null ? 'null' : typeof items === 'object' ? (items as object).constructor?.name ?? 'an object' : typeof items}`);
    if (items.length === 0) throw new RangeError('Rng.choice: empty array');
    return items[this.int(items.length)];
  }

  /** Fill `out` with standard normal deviates. */
  fillNormal(out: Float32Array | Float64Array): void {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
  }

  /** Fill `out` with uniform deviates in [lo, hi). */
  fillUniform(out: Float32Array | Float64Array, lo = 0, hi = 1): void {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
  }

  /** A 31-bit integer seed for a child system that wants a number (e.g. a MuJoCo reset). */
  seed31(): number {
    return this.nextU32() >>> 1;
  }

  getState(): RngState {
    return { path: this.path, s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare };
  }

  setState(state: RngState): void {
    if (state.path !== this.path) {
      throw new Error(`Rng.setState: state belongs to stream "${state.path}", not "${this.path}"`);
    }
    [this.s0, this.s1, this.s2, this.s3] = state.s;
    this.spare = state.spare;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(state.path);
    r.setState(state);
    return r;
  }
}
