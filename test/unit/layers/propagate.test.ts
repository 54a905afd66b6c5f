import { describe, expect, test } from 'vitest';
import { createPropagateLayer } from '../../../src/layers/propagate.js';
import { attemptHeaders, type Attempt } from '../../../src/pipeline/types.js';
import { attemptOf, layerContext, preparedRequest } from '../../support/attempt.js';

const capture = () => {
  const seen: Attempt[] = [];
  const send = createPropagateLayer(layerContext().context)(async (attempt) => {
    seen.push(attempt);
    return new Response('ok');
  });
  return { seen, send };
};

describe('propagate layer (deadline and attempt headers)', () => {
  test('off by default: the attempt goes down unchanged', async () => {
    const { seen, send } = capture();
    const attempt = attemptOf(preparedRequest('http://a.test/', {}, { deadline: performance.now() + 1_000 }));
    await send(attempt);
    expect(seen[0]).toBe(attempt);
  });

  test('numbers the attempts of a call in the order sent, hedges included, and sends the time left', async () => {
    const { seen, send } = capture();
    const request = preparedRequest(
      'http://a.test/',
      { deadlineHeader: 'X-Deadline-Ms', attemptHeader: 'x-attempt' },
      {
        deadline: performance.now() + 5_000,
        headers: [
          ['x-attempt', 'caller'],
          ['accept', '*/*'],
        ],
      },
    );
    await send(attemptOf(request, 0, 0));
    await send(attemptOf(request, 0, 1));
    await send(attemptOf(request, 1, 0));
    const other = preparedRequest('http://a.test/', { attemptHeader: 'x-attempt' });
    await send(attemptOf(other));
    const header = (attempt: Attempt, name: string) => attemptHeaders(attempt).filter(([n]) => n === name);
    expect(seen.slice(0, 3).map((a) => header(a, 'x-attempt'))).toEqual([
      [['x-attempt', '1']],
      [['x-attempt', '2']],
      [['x-attempt', '3']],
    ]);
    const left = seen.slice(0, 3).map((a) => Number(header(a, 'x-deadline-ms')[0]?.[1]));
    for (const ms of left) expect(ms).toBeGreaterThan(4_000);
    expect(left[0]).toBeLessThanOrEqual(5_000);
    expect(header(seen[0] as Attempt, 'accept')).toEqual([['accept', '*/*']]);
    // A call with no deadline sends no deadline header; each call counts from 1.
    expect(header(seen[3] as Attempt, 'x-attempt')).toEqual([['x-attempt', '1']]);
    expect(header(seen[3] as Attempt, 'x-deadline-ms')).toEqual([]);
  });
});
