import { describe, expect, it } from 'vitest';
import { compose, type Attempt, type Layer } from '../../../src/pipeline/types.js';

describe('compose', () => {
  it('runs layers outermost first', async () => {
    const order: string[] = [];
    const tag =
      (name: string): Layer =>
      (next) =>
      async (attempt) => {
        order.push(name);
        return next(attempt);
      };
    const send = compose(tag('a'), tag('b'), tag('c'))(async () => new Response('x'));
    await send({} as Attempt);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('rejects a layer that is not a function', () => {
    expect(() => compose((next) => next, 42 as unknown as Layer)(async () => new Response())).toThrow(
      'compose: layer 1 is not a function',
    );
  });
});
