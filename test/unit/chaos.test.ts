import { afterEach, describe, expect, test, vi } from 'vitest';
import { chaos, networkError, type ChaosInjection, type ChaosOptions, type ChaosRequest } from '../../src/chaos.js';

const URL_ = 'https://api.example.com/items';

/** A wrapped fetch that records its calls and answers 200 `ok`. */
const recorder = () => {
  const calls: Array<[string | URL | Request, RequestInit | undefined]> = [];
  const fetch = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    calls.push([input, init]);
    return new Response('ok');
  });
  return { fetch, calls };
};

/** The indices of the injected calls among `n` sequential calls. */
const schedule = async (options: Omit<ChaosOptions, 'fetch' | 'onInjected'>, n: number): Promise<number[]> => {
  const injected: number[] = [];
  const fetch = chaos({ ...options, fetch: recorder().fetch, onInjected: ({ request }) => injected.push(request.index) });
  for (let i = 0; i < n; i++) await fetch(URL_).catch(() => {});
  return injected;
};

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('chaos: injection rate and schedule', () => {
  test.for([0.01, 0.1, 0.3, 0.5, 0.9])('injects at rate %s over 10,000 calls, within 4 standard deviations', async (rate) => {
    const { fetch: base } = recorder();
    const fetch = chaos({ fetch: base, outcome: { status: 503 }, rate, seed: 20261202 });
    let answered503 = 0;
    for (let i = 0; i < 10_000; i++) if ((await fetch(URL_)).status === 503) answered503++;
    const expected = 10_000 * rate;
    const tolerance = 4 * Math.sqrt(10_000 * rate * (1 - rate));
    expect(Math.abs(answered503 - expected)).toBeLessThanOrEqual(tolerance);
    expect(fetch.stats()).toMatchObject({ calls: 10_000, injected: answered503, outcomes: answered503 });
    expect(fetch.stats().passedThrough).toBe(10_000 - answered503);
    expect(base).toHaveBeenCalledTimes(10_000 - answered503);
  });

  test('rate 0 never injects and rate 1 always does', async () => {
    expect(await schedule({ fault: true, rate: 0, seed: 1 }, 1_000)).toEqual([]);
    expect(await schedule({ outcome: { status: 503 }, rate: 1, seed: 1 }, 1_000)).toHaveLength(1_000);
  });

  test('the same seed gives the same schedule; another seed gives another', async () => {
    const a = await schedule({ outcome: { status: 503 }, rate: 0.3, seed: 42 }, 2_000);
    const b = await schedule({ outcome: { status: 503 }, rate: 0.3, seed: 42 }, 2_000);
    const c = await schedule({ outcome: { status: 503 }, rate: 0.3, seed: 43 }, 2_000);
    expect(a.length).toBeGreaterThan(400);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  test('the schedule depends on the order of calls, not on their timing: concurrent calls get the sequential schedule', async () => {
    const sequential = await schedule({ fault: true, rate: 0.25, seed: 7 }, 500);
    const injected: number[] = [];
    // The wrapped fetch answers after a random delay, so calls settle out of order.
    const slow = async () => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      return new Response('ok');
    };
    const fetch = chaos({
      fetch: slow,
      fault: true,
      rate: 0.25,
      seed: 7,
      onInjected: ({ request }) => injected.push(request.index),
    });
    await Promise.allSettled(Array.from({ length: 500 }, () => fetch(URL_)));
    expect(injected.sort((x, y) => x - y)).toEqual(sequential);
  });

  test('without a seed a random one is drawn, exposed as .seed, and replaying it gives the same schedule', async () => {
    const injected: number[] = [];
    const first = chaos({
      fetch: recorder().fetch,
      fault: true,
      rate: 0.5,
      onInjected: ({ request }) => injected.push(request.index),
    });
    for (let i = 0; i < 200; i++) await first(URL_).catch(() => {});
    expect(Number.isInteger(first.seed)).toBe(true);
    expect(await schedule({ fault: true, rate: 0.5, seed: first.seed }, 200)).toEqual(injected);
  });

  test('a rate function (InjectionRateGenerator) is asked per call', async () => {
    const { fetch: base } = recorder();
    const rate = vi.fn((request: ChaosRequest) => (request.method === 'POST' ? 1 : 0));
    const fetch = chaos({ fetch: base, outcome: { status: 500 }, rate, seed: 1 });
    expect((await fetch(URL_)).status).toBe(200);
    expect((await fetch(URL_, { method: 'post' })).status).toBe(500);
    expect(rate).toHaveBeenCalledTimes(2);
  });
});

describe('chaos: the request the functions see', () => {
  test('url, method normalised as fetch does (patch stays lower case), headers, index; from a string, a URL or a Request', async () => {
    const seen: ChaosRequest[] = [];
    const fetch = chaos({ fetch: recorder().fetch, latency: 0, rate: 0, enabled: (r) => (seen.push(r), true) });
    await fetch(URL_, { method: 'post', headers: [['x-a', '1']] });
    await fetch(new URL(URL_), { method: 'patch' });
    await fetch(new Request(URL_, { method: 'put', headers: { 'x-b': '2' } }));
    expect(seen.map((r) => [r.url, r.method, [...r.headers], r.index])).toEqual([
      [URL_, 'POST', [['x-a', '1']], 0],
      [URL_, 'patch', [], 1],
      [URL_, 'PUT', [['x-b', '2']], 2],
    ]);
  });
});

describe('chaos: enabled', () => {
  test('enabled: false passes every call through with its own arguments, untouched', async () => {
    const { fetch: base, calls } = recorder();
    const fetch = chaos({ fetch: base, fault: true, rate: 1, enabled: false, seed: 1 });
    const init = { method: 'PUT', body: 'x', headers: { a: 'b' } };
    const res = await fetch(URL_, init);
    expect(await res.text()).toBe('ok');
    expect(calls).toEqual([[URL_, init]]);
    expect(calls[0]?.[1]).toBe(init);
    expect(fetch.stats()).toMatchObject({ calls: 1, injected: 0, passedThrough: 1 });
  });

  test('an enabled function (EnabledGenerator) sees the request, and turning calls off does not move the others', async () => {
    const all = await schedule({ fault: true, rate: 0.3, seed: 99 }, 300);
    const seen: ChaosRequest[] = [];
    const injected: number[] = [];
    const fetch = chaos({
      fetch: recorder().fetch,
      fault: true,
      rate: 0.3,
      seed: 99,
      enabled: async (request) => {
        seen.push(request);
        return request.index % 2 === 1;
      },
      onInjected: ({ request }) => injected.push(request.index),
    });
    for (let i = 0; i < 300; i++)
      await fetch(new Request(URL_, { method: 'DELETE', headers: { 'x-n': String(i) } })).catch(() => {});
    expect(injected).toEqual(all.filter((i) => i % 2 === 1));
    expect(seen[3]).toMatchObject({ url: URL_, method: 'DELETE', index: 3 });
    expect(seen[3]?.headers.get('x-n')).toBe('3');
  });
});

describe('chaos: fault', () => {
  test('fault: true throws fetch\'s TypeError("fetch failed") with an ECONNRESET cause, as undici does, without calling fetch', async () => {
    const { fetch: base } = recorder();
    const error = (await chaos({ fetch: base, fault: true, rate: 1 })(URL_).catch((e: unknown) => e)) as TypeError;
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('fetch failed');
    expect(error.cause).toMatchObject({ code: 'ECONNRESET', syscall: 'read', message: 'read ECONNRESET' });
    expect(base).not.toHaveBeenCalled();
  });

  test('a code gives the same error with that code; each call gets a fresh error', async () => {
    const fetch = chaos({ fetch: recorder().fetch, fault: 'ECONNREFUSED', rate: 1 });
    const [a, b] = (await Promise.all([
      fetch(URL_).catch((e: unknown) => e),
      fetch(URL_).catch((e: unknown) => e),
    ])) as TypeError[];
    expect(a?.cause).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
    expect(a).not.toBe(b);
    expect(networkError('EAI_AGAIN').cause).toMatchObject({ code: 'EAI_AGAIN', syscall: 'getaddrinfo' });
  });

  test('an Error is thrown as given; a function may return undefined to pass the call through', async () => {
    const given = new Error('boom');
    await expect(chaos({ fetch: recorder().fetch, fault: given, rate: 1 })(URL_)).rejects.toBe(given);
    const { fetch: base } = recorder();
    const fetch = chaos({ fetch: base, fault: (r) => (r.index === 0 ? new TypeError('first') : undefined), rate: 1 });
    await expect(fetch(URL_)).rejects.toThrow('first');
    expect((await fetch(URL_)).status).toBe(200);
    expect(fetch.stats()).toMatchObject({ injected: 2, faults: 1, passedThrough: 1 });
  });
});

describe('chaos: latency', () => {
  test('adds the latency before passing through', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { fetch: base } = recorder();
    const fetch = chaos({ fetch: base, latency: 100, rate: 1 });
    const pending = fetch(URL_);
    await vi.advanceTimersByTimeAsync(99);
    expect(base).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(await (await pending).text()).toBe('ok');
    expect(fetch.stats()).toMatchObject({ latencies: 1, passedThrough: 1 });
  });

  test("the request's signal ends the latency, rejecting with its reason; fetch is never called", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { fetch: base } = recorder();
    const fetch = chaos({ fetch: base, latency: (r) => 1_000 + r.index, rate: 1 });
    const controller = new AbortController();
    const pending = fetch(URL_, { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(10);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    // A Request's own signal counts too, and one aborted already rejects at once.
    const gone = new AbortController();
    gone.abort(new DOMException('stop', 'AbortError'));
    await expect(fetch(new Request(URL_, { signal: gone.signal }))).rejects.toMatchObject({
      name: 'AbortError',
      message: 'stop',
    });
    expect(vi.getTimerCount()).toBe(0);
    expect(base).not.toHaveBeenCalled();
  });

  test('latency with an outcome is a slow answer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { fetch: base } = recorder();
    const fetch = chaos({ fetch: base, latency: 50, outcome: { status: 504 }, rate: 1 });
    let settled = false;
    const pending = fetch(URL_).finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(49);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect((await pending).status).toBe(504);
    expect(base).not.toHaveBeenCalled();
  });
});

describe('chaos: outcome', () => {
  test('answers status, reason, headers and body as fetch would, fresh on each call, without calling fetch', async () => {
    const { fetch: base } = recorder();
    const fetch = chaos({
      fetch: base,
      outcome: { status: 503, headers: { 'retry-after': '1', 'content-type': 'text/plain' }, body: 'busy' },
      rate: 1,
    });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${URL_}?page=${i}#top`);
      expect(res).toBeInstanceOf(Response);
      expect(res.status).toBe(503);
      expect(res.statusText).toBe('Service Unavailable');
      expect(res.ok).toBe(false);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.url).toBe(`${URL_}?page=${i}`);
      expect(() => res.headers.set('x', 'y')).toThrow(TypeError);
      expect(await res.text()).toBe('busy');
    }
    expect(base).not.toHaveBeenCalled();
    expect(fetch.stats()).toMatchObject({ calls: 2, injected: 2, outcomes: 2, passedThrough: 0 });
  });

  test('binary bodies, a given statusText, and a function returning a Response (undefined passes through)', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const res = await chaos({ fetch: recorder().fetch, outcome: { status: 500, statusText: 'Oops', body: bytes }, rate: 1 })(
      URL_,
    );
    expect(res.statusText).toBe('Oops');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    const injections: ChaosInjection[] = [];
    const fetch = chaos({
      fetch: recorder().fetch,
      outcome: (r) => (r.method === 'GET' ? Response.json({ error: 'slow down' }, { status: 429 }) : undefined),
      rate: 1,
      onInjected: (i) => injections.push(i),
    });
    const limited = await fetch(URL_);
    expect(limited.status).toBe(429);
    expect(await limited.json()).toEqual({ error: 'slow down' });
    expect((await fetch(URL_, { method: 'POST', body: 'x' })).status).toBe(200);
    expect(injections.map((i) => [i.request.method, i.status, i.latency])).toEqual([
      ['GET', 429, 0],
      ['POST', undefined, 0],
    ]);
  });
});

describe('chaos: behavior, the default fetch, composition', () => {
  test('behavior runs first on an injected call; what it throws, the call rejects with', async () => {
    const order: string[] = [];
    const fetch = chaos({
      fetch: async () => (order.push('fetch'), new Response('ok')),
      behavior: async (r) => {
        order.push(`behavior ${r.index}`);
        if (r.index === 1) throw new Error('restart failed');
      },
      rate: 1,
    });
    await fetch(URL_);
    await expect(fetch(URL_)).rejects.toThrow('restart failed');
    expect(order).toEqual(['behavior 0', 'fetch', 'behavior 1']);
    expect(fetch.stats().behaviors).toBe(2);
  });

  test('with no fetch option, globalThis.fetch is read at call time (a mock installed later answers)', async () => {
    const fetch = chaos({ outcome: { status: 503 }, rate: 0.5, seed: 3 });
    const mock = vi.fn(async () => new Response('mocked'));
    vi.stubGlobal('fetch', mock);
    const statuses = [];
    for (let i = 0; i < 20; i++) statuses.push((await fetch(URL_)).status);
    expect(statuses).toContain(503);
    expect(mock).toHaveBeenCalledTimes(statuses.filter((s) => s === 200).length);
  });

  test('nested chaos() wrappers are a pipeline: each strategy draws with its own rate and seed', async () => {
    const { fetch: base } = recorder();
    const inner = chaos({ fetch: base, outcome: { status: 503 }, rate: 0.3, seed: 2 });
    const outer = chaos({ fetch: inner, fault: true, rate: 0.1, seed: 1 });
    let faults = 0;
    for (let i = 0; i < 5_000; i++) await outer(URL_).catch(() => faults++);
    expect(faults).toBe(outer.stats().faults);
    expect(inner.stats().calls).toBe(5_000 - faults);
    expect(Math.abs(faults - 500)).toBeLessThan(4 * Math.sqrt(5_000 * 0.1 * 0.9));
    expect(Math.abs(inner.stats().outcomes - 0.3 * inner.stats().calls)).toBeLessThan(4 * Math.sqrt(inner.stats().calls * 0.21));
    expect(base).toHaveBeenCalledTimes(inner.stats().passedThrough);
  });

  test("has fetch's signature: length 1, name fetch", () => {
    const fetch = chaos({ fault: true, rate: 0 });
    expect(fetch.length).toBe(1);
    expect(fetch.name).toBe('fetch');
  });
});

describe('chaos: invalid options throw naming the field', () => {
  test.for([
    [undefined, TypeError, /^chaos: options must be an object, got undefined$/],
    [{ fault: true }, TypeError, /^chaos: rate must be given/],
    [{ fault: true, rate: 1.5 }, RangeError, /^chaos: rate must be a number in \[0, 1\] or a function, got 1\.5$/],
    [{ fault: true, rate: Number.NaN }, RangeError, /^chaos: rate must be .*, got NaN$/],
    [{ fault: true, rate: '0.5' }, TypeError, /^chaos: rate must be .*, got "0\.5"$/],
    [{ fault: true, rate: 1, seed: -1 }, RangeError, /^chaos: seed must be an integer from 0 to 4294967295, got -1$/],
    [{ fault: true, rate: 1, seed: 1.5 }, RangeError, /^chaos: seed must be/],
    [{ fault: true, rate: 1, enabled: 'yes' }, TypeError, /^chaos: enabled must be a boolean or a function, got "yes"$/],
    [{ fault: 'reset', rate: 1 }, TypeError, /^chaos: fault must be true, an error code/],
    [{ fault: false, rate: 1 }, TypeError, /^chaos: fault must be/],
    [
      { latency: -5, rate: 1 },
      RangeError,
      /^chaos: latency must be a finite number >= 0 \(milliseconds\) or a function, got -5$/,
    ],
    [{ latency: Infinity, rate: 1 }, RangeError, /^chaos: latency must be/],
    [{ outcome: 503, rate: 1 }, TypeError, /^chaos: outcome must be an object/],
    [{ outcome: { status: 99 }, rate: 1 }, RangeError, /^chaos: outcome\.status must be an integer from 200 to 599, got 99$/],
    [{ outcome: { status: 204, body: 'x' }, rate: 1 }, TypeError, /^chaos: outcome\.body must be null for status 204/],
    [{ outcome: { status: 503, body: new ReadableStream() }, rate: 1 }, TypeError, /^chaos: outcome\.body must be a string/],
    [{ outcome: { status: 503, headers: [['bad header', 'x']] }, rate: 1 }, TypeError, /^chaos: outcome\.headers must be valid/],
    [{ outcome: { status: 503, reason: 'x' }, rate: 1 }, TypeError, /^chaos: outcome\.reason must be absent/],
    [{ fault: true, outcome: { status: 503 }, rate: 1 }, TypeError, /^chaos: fault and outcome exclude each other/],
    [{ rate: 1 }, TypeError, /^chaos: options need at least one of fault, latency, outcome or behavior$/],
    [{ fault: true, rate: 1, fetch: 'https://x' }, TypeError, /^chaos: fetch must be a function/],
    [{ fault: true, rate: 1, injectionRate: 0.1 }, TypeError, /^chaos: injectionRate must be absent \(unknown option\)/],
    [{ fault: true, rate: 1, onInjected: 1 }, TypeError, /^chaos: onInjected must be a function/],
  ] as const)('%j', ([options, Kind, message]) => {
    const thrown = (() => {
      try {
        chaos(options as unknown as ChaosOptions);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(Kind);
    expect((thrown as Error).message).toMatch(message);
  });

  test('what a function option returns is checked per call, and the call rejects naming it', async () => {
    const base = recorder().fetch;
    await expect(chaos({ fetch: base, fault: true, rate: () => 2 })(URL_)).rejects.toThrow(
      /^chaos: rate\(\) must be a number in \[0, 1\], got 2$/,
    );
    await expect(chaos({ fetch: base, latency: () => -1, rate: 1 })(URL_)).rejects.toThrow(/^chaos: latency\(\) must be/);
    await expect(chaos({ fetch: base, fault: () => 'x' as unknown as Error, rate: 1 })(URL_)).rejects.toThrow(
      /^chaos: fault\(\) must be an Error/,
    );
    await expect(chaos({ fetch: base, outcome: () => ({ status: 503 }) as unknown as Response, rate: 1 })(URL_)).rejects.toThrow(
      /^chaos: outcome\(\) must be a Response/,
    );
    await expect(chaos({ fetch: base, fault: true, rate: 1, enabled: () => 1 as unknown as boolean })(URL_)).rejects.toThrow(
      /^chaos: enabled\(\) must be a boolean, got 1$/,
    );
    expect(base).not.toHaveBeenCalled();
  });
});
