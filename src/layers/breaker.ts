/**
 * Breaker layer: filled by the circuit-breaker issue. Until then a pass-through slot in the composition.
 */
import type { Layer, LayerContext } from './layer.js';

export const createBreakerLayer =
  (_context: LayerContext): Layer =>
  (next) =>
    next;
