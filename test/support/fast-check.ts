/**
 * Property tests are deterministic by default: every `fc.assert` starts from one fixed seed, so
 * `npm test` (and CI) runs the same cases each time. `FC_SEED=<n>` replays a seed a failure printed;
 * `FC_SEED=random` explores new cases (`npm run test:fuzz` does that in a loop).
 */
import fc from 'fast-check';

const FIXED_SEED = 20_261_123;
const raw = process.env.FC_SEED;
if (raw !== 'random') {
  const seed = raw === undefined || raw === '' ? FIXED_SEED : Number(raw);
  if (!Number.isSafeInteger(seed)) throw new TypeError(`FC_SEED must be an integer or "random" (got ${JSON.stringify(raw)})`);
  fc.configureGlobal({ seed });
}
