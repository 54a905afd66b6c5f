export { createFetch } from './client.js';
export type { FetchStats, ResilientFetch } from './client.js';
export { install } from './install.js';
export type { Restore } from './install.js';
export { DEFAULTS } from './defaults.js';
export { runWithDeadline, deadlineLeft } from './deadline.js';
export {
  BulkheadRejectedError,
  CircuitOpenError,
  ResilientFetchError,
  ThrottledError,
  isBulkheadRejectedError,
  isCircuitOpenError,
  isResilientFetchError,
  isThrottledError,
} from './errors.js';
export { CHANNELS, channelName } from './diagnostics.js';
export { resendCountHook } from './tracing.js';
export type * from './diagnostics.js';
export type * from './options.js';
