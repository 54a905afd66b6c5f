/**
 * A small seeded PRNG for reproducible chaos: mulberry32 seeded through splitmix32, so nearby
 * seeds (and nearby call indices) give unrelated streams. `forCall(seed, index)` gives each call
 * its own stream: a call's faults depend only on (seed, index), never on scheduling.
 */

const splitmix32 = (x: number): number => {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
};

export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = splitmix32(seed >>> 0);
  }

  /** A stream for one call: depends only on `seed` and `index`. */
  static forCall(seed: number, index: number): Rng {
    return new Rng(splitmix32(seed >>> 0) ^ splitmix32((index + 0x632be5ab) >>> 0));
  }

  /** Uniform in [0, 1). mulberry32. */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick: empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Picks by weight: `[[item, weight], ...]`. */
  weighted<T>(table: ReadonlyArray<readonly [T, number]>): T {
    const total = table.reduce((sum, [, w]) => sum + w, 0);
    let roll = this.next() * total;
    for (const [item, weight] of table) {
      roll -= weight;
      if (roll < 0) return item;
    }
    return (table[table.length - 1] as readonly [T, number])[0];
  }

  /** `length` pseudo-random bytes: xorshift32 seeded from this stream, so long bodies stay cheap. */
  bytes(length: number): Uint8Array<ArrayBuffer> {
    const words = new Uint32Array(Math.ceil(length / 4));
    let x = (this.next() * 4_294_967_296) >>> 0 || 1;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    return new Uint8Array(words.buffer, 0, length).slice();
  }
}

/**
 * A seed from the environment (`CHAOS_SEED`, decimal or 0x hex; `random` for a fresh one). Unset, it
 * is `fallback` when one is given (tests pin their seed so CI is deterministic), else a fresh one.
 */
export const seedFromEnv = (name = 'CHAOS_SEED', fallback?: number): number => {
  const raw = process.env[name]?.trim();
  if (raw !== undefined && raw !== '' && raw !== 'random') {
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`${name} must be a non-negative integer or "random", got ${raw}`);
    return value >>> 0;
  }
  if (raw !== 'random' && fallback !== undefined) return fallback >>> 0;
  return (Math.random() * 4_294_967_296) >>> 0;
};
