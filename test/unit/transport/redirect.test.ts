import { describe, expect, test } from 'vitest';
import { MAX_REDIRECTS, nextHop, type Hop } from '../../../src/transport/redirect.js';

const hop = (overrides: Partial<Hop> = {}): Hop => ({
  url: new URL('http://127.0.0.1:8080/a/b?x=1#top'),
  method: 'POST',
  headers: [
    ['content-type', 'application/json'],
    ['content-language', 'en'],
    ['content-length', '2'],
    ['authorization', 'Bearer t'],
    ['cookie', 'c=1'],
    ['proxy-authorization', 'Basic p'],
    ['x-trace', 't1'],
  ],
  body: new Uint8Array([123, 125]),
  stream: null,
  chunked: false,
  count: 0,
  ...overrides,
});

const names = (next: Hop) => next.headers.map(([name]) => name);

describe('nextHop', () => {
  test('resolves a relative location against the current URL and inherits the fragment', () => {
    const next = nextHop(hop(), 307, '../c?y=2');
    expect(next.url.href).toBe('http://127.0.0.1:8080/c?y=2#top');
    expect(next.count).toBe(1);
  });

  test("a location's own fragment wins", () => {
    expect(nextHop(hop(), 307, '/d#own').url.hash).toBe('#own');
  });

  test.for([301, 302, 303])('%i turns a POST into a GET without body or body headers', (status) => {
    const next = nextHop(hop(), status, '/next');
    expect(next.method).toBe('GET');
    expect(next.body).toBeNull();
    expect(names(next)).toEqual(['authorization', 'cookie', 'proxy-authorization', 'x-trace']);
  });

  test.for([307, 308])('%i keeps method, body and headers', (status) => {
    const before = hop();
    const next = nextHop(before, status, '/next');
    expect(next.method).toBe('POST');
    expect(next.body).toBe(before.body);
    expect(next.headers).toEqual(before.headers);
  });

  test('303 turns any method but GET and HEAD into GET; 301 keeps PUT', () => {
    expect(nextHop(hop({ method: 'DELETE' }), 303, '/n').method).toBe('GET');
    expect(nextHop(hop({ method: 'HEAD', body: null }), 303, '/n').method).toBe('HEAD');
    expect(nextHop(hop({ method: 'PUT' }), 301, '/n').method).toBe('PUT');
  });

  test('a cross-origin hop drops authorization, cookie and proxy-authorization only', () => {
    const next = nextHop(hop(), 307, 'http://127.0.0.1:9090/elsewhere');
    expect(names(next)).toEqual(['content-type', 'content-language', 'content-length', 'x-trace']);
    expect(nextHop(hop(), 307, 'https://127.0.0.1:8080/').headers).toHaveLength(4);
  });

  test('errors where fetch gives a network error', () => {
    expect(() => nextHop(hop(), 302, 'ftp://127.0.0.1/')).toThrow('URL scheme must be a HTTP(S) scheme');
    expect(() => nextHop(hop({ count: MAX_REDIRECTS }), 302, '/n')).toThrow('redirect count exceeded');
    expect(() => nextHop(hop(), 302, 'http://u:p@127.0.0.2/')).toThrow('cross origin');
    expect(() => nextHop(hop(), 302, 'http://[bad')).toThrow(TypeError);
    const stream = new ReadableStream<Uint8Array>();
    expect(() => nextHop(hop({ body: null, stream }), 307, '/n')).toThrow('cannot be sent again');
    expect(nextHop(hop({ body: null, stream }), 303, '/n').stream).toBeNull();
  });

  test('a buffered stream body (chunked) is not resent on a 307/308, and a 303 drops it', () => {
    expect(() => nextHop(hop({ chunked: true }), 307, '/n')).toThrow('cannot be sent again');
    expect(() => nextHop(hop({ chunked: true }), 308, '/n')).toThrow('cannot be sent again');
    expect(nextHop(hop({ chunked: true }), 303, '/n')).toMatchObject({ method: 'GET', body: null, chunked: false });
  });

  test('a Location that is not plain ASCII is read as UTF-8 bytes, as fetch reads it', () => {
    const latin1 = Buffer.from('/안녕?q=é', 'utf8').toString('latin1');
    const { pathname, search } = nextHop(hop(), 302, latin1).url;
    expect(pathname + search).toBe('/%EC%95%88%EB%85%95?q=%C3%A9');
    expect(nextHop(hop(), 302, '/plain%20ascii').url.pathname).toBe('/plain%20ascii');
  });

  test('follows the 20th redirect', () => {
    expect(nextHop(hop({ count: MAX_REDIRECTS - 1 }), 302, '/n').count).toBe(MAX_REDIRECTS);
  });
});
