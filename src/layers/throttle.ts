/**
 * Adaptive throttling layer: filled by the retry-budget issue. Until then a pass-through slot.
 */
import type { Layer, LayerContext } from './layer.js';

export const createThrottleLayer =
  (_context: LayerContext): Layer =>
  (next) =>
    next;
