/**
 * Hedge layer: filled by the hedging issue. Until then a pass-through slot in the composition.
 */
import type { Layer, LayerContext } from './layer.js';

export const createHedgeLayer =
  (_context: LayerContext): Layer =>
  (next) =>
    next;
