/**
 * Upstream layer: filled by the circuit-breaker issue (`upstreams` failover). Until then a
 * pass-through slot: every attempt goes to the caller's URL.
 */
import type { Layer, LayerContext } from './layer.js';

export const createUpstreamLayer =
  (_context: LayerContext): Layer =>
  (next) =>
    next;
