/**
 * A small seeded PRNG: mulberry32, its state seeded through splitmix32 so that nearby seeds give
 * unrelated streams. The same seed always gives the same sequence of draws in [0, 1).
 */
const splitmix32 = (x: number): number => {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
};

/** A function returning the next uniform draw in [0, 1) of the stream `seed` names (an unsigned 32-bit integer). */
export const mulberry32 = (seed: number): (() => number) => {
  let state = splitmix32(seed >>> 0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};
