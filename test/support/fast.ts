import type { Policy } from '../../src/options.js';

/** Back-off fast enough for integration tests over real sockets (1..5 ms). */
export const FAST: Policy = { retry: { backoff: { base: 1, max: 5 } } };
