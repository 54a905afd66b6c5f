import { describe, expect, it } from 'vitest';
import { attemptOf, preparedRequest } from '../../support/attempt.js';

describe('issue-16 item 7: the attempt fixture is shaped like a production call', () => {
  it('has no signal unless a test gives one, as a call whose caller gave none (PreparedRequest.signal undefined)', () => {
    const request = preparedRequest('http://a.test/', {});
    expect(request.signal).toBeUndefined();
    expect(request.callerSignal).toBe(false);
    expect(attemptOf(request).signal).toBeUndefined();
    const signal = new AbortController().signal;
    const withSignal = preparedRequest('http://a.test/', {}, { signal, callerSignal: true });
    expect(attemptOf(withSignal, 1).signal).toBe(signal);
  });
});
