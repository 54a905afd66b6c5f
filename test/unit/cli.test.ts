import { describe, expect, test } from 'vitest';
import { EXIT, HELP, describeEvent, exitFor, parse } from '../../src/cli.js';
import type { ResilientEvent } from '../../src/diagnostics.js';
import { CircuitOpenError } from '../../src/errors.js';

const fetchFailed = (code: string) => new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });

describe('cli parse', () => {
  test('a bare URL is a GET with the breaker off and the library defaults otherwise', async () => {
    const parsed = await parse(['http://127.0.0.1:8080/x']);
    expect(parsed).not.toBe('help');
    if (parsed === 'help') return;
    expect(parsed.url.href).toBe('http://127.0.0.1:8080/x');
    expect(parsed.init.method).toBe('GET');
    expect(parsed.policy).toEqual({ breaker: false });
    expect(parsed).toMatchObject({ fail: false, verbose: false });
  });

  test('flags map onto the policy: --retry, --hedge MS|auto, --breaker, --timeout', async () => {
    const a = await parse(['--retry', '5', '--hedge', '40', '--breaker', '--timeout', '1500', '-f', '-v', 'http://127.0.0.1/']);
    const b = await parse(['--hedge', 'auto', 'http://127.0.0.1/']);
    if (a === 'help' || b === 'help') throw new Error('unexpected help');
    expect(a.policy).toEqual({ breaker: true, retry: 5, hedge: { delay: 40 }, timeout: { total: 1500 } });
    expect(a).toMatchObject({ fail: true, verbose: true });
    expect(b.policy.hedge).toEqual({ delay: 'auto' });
  });

  test('-d makes a POST with a form content-type unless one is given; -X wins', async () => {
    const form = await parse(['-d', 'a=1', 'http://127.0.0.1/']);
    const json = await parse(['-X', 'PUT', '-H', 'Content-Type: application/json', '-d', '{}', 'http://127.0.0.1/']);
    if (form === 'help' || json === 'help') throw new Error('unexpected help');
    expect(form.init.method).toBe('POST');
    expect(new Headers(form.init.headers).get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(json.init.method).toBe('PUT');
    expect(new Headers(json.init.headers).get('content-type')).toBe('application/json');
    expect(json.init.body).toBe('{}');
  });

  test('--help needs no URL and wins over one', async () => {
    expect(await parse(['--help'])).toBe('help');
    expect(await parse(['-h', 'http://127.0.0.1/'])).toBe('help');
  });

  test.for([
    [['--retry=-1', 'http://127.0.0.1/'], /--retry must be an integer >= 0/],
    [['--timeout', '0', 'http://127.0.0.1/'], /--timeout must be an integer >= 1/],
    [['--hedge', 'soon', 'http://127.0.0.1/'], /--hedge must be an integer >= 0/],
    [['-d', '@/nonexistent/file', 'http://127.0.0.1/'], /-d @\/nonexistent\/file: ENOENT/],
    [['http://a/', 'http://b/'], /one URL expected, got 2/],
    [['ftp://127.0.0.1/'], /unsupported protocol: ftp:/],
    [['-X', 'get', '-d', 'x', 'http://127.0.0.1/'], /-d cannot be used with GET/],
  ] as const)('%j is a usage error', async ([args, message]) => {
    await expect(parse(args)).rejects.toThrow(message);
  });
});

describe('cli exit codes and timeline lines', () => {
  test('failures map to curl exit codes', () => {
    expect(exitFor(new DOMException('total', 'TimeoutError'))).toBe(EXIT.timeout);
    expect(exitFor(new CircuitOpenError('api.example.com', 500))).toBe(EXIT.connect);
    expect(exitFor(fetchFailed('ENOTFOUND'))).toBe(EXIT.resolve);
    expect(exitFor(fetchFailed('ECONNREFUSED'))).toBe(EXIT.connect);
    expect(exitFor(fetchFailed('UND_ERR_CONNECT_TIMEOUT'))).toBe(EXIT.timeout);
    expect(exitFor(fetchFailed('UND_ERR_SOCKET'))).toBe(EXIT.network);
    expect(exitFor(new Error('anything else'))).toBe(EXIT.network);
  });

  test('every event type has a timeline line that names its facts', () => {
    const host = 'http://127.0.0.1:1';
    const events: Array<[ResilientEvent, string]> = [
      [
        { type: 'retry', host, attempt: 2, resendCount: 2, delay: 80, reason: 'status 503' },
        'attempt 2 failed (status 503); retry with resend_count 2 in 80 ms',
      ],
      [
        { type: 'give-up', host, attempt: 1, resendCount: 0, reason: 'status 429', why: 'Retry-After 60000 ms > maxRetryAfter' },
        'attempt 1 failed (status 429); not retrying: Retry-After 60000 ms > maxRetryAfter',
      ],
      [{ type: 'hedge', host, branch: 1, after: 50 }, 'hedge 1 sent after 50 ms'],
      [{ type: 'hedge-win', host, branch: 1, elapsed: 61 }, 'branch 1 won after 61 ms'],
      [{ type: 'breaker', host, from: 'closed', to: 'open' }, `breaker for ${host}: closed -> open`],
      [{ type: 'budget-exhausted', host, kind: 'retry' }, `retry budget exhausted for ${host}`],
      [{ type: 'fallback', host, reason: 'ERR_CIRCUIT_OPEN' }, 'breaker fallback used (ERR_CIRCUIT_OPEN)'],
      [{ type: 'throttle', host, probability: 0.25 }, 'throttled locally (rejecting 25.0 %)'],
      [{ type: 'pushback', host, until: 1, status: 503 }, 'server pushback (status 503)'],
    ];
    for (const [event, line] of events) expect(describeEvent(event)).toBe(line);
  });

  test('the help text documents every exit code', () => {
    for (const code of Object.values(EXIT)) expect(HELP).toMatch(new RegExp(`\\b${code}\\b`));
  });
});
