import diagnostics from 'node:diagnostics_channel';
import { describe, expect, onTestFinished } from 'vitest';
import { CHANNELS, channelName } from '../../src/index.js';
import type { ResilientEvent, RetryEvent } from '../../src/index.js';
import { test } from '../support/server.js';
import { client } from '../support/client.js';

/** Subscribes to every channel for the test's duration; returns what arrived, in order. */
const subscribeAll = () => {
  const received: Array<{ channel: string; message: unknown }> = [];
  for (const name of Object.values(CHANNELS)) {
    const listener = (message: unknown, channel: string | symbol) => void received.push({ channel: String(channel), message });
    diagnostics.subscribe(name, listener);
    onTestFinished(() => void diagnostics.unsubscribe(name, listener));
  }
  return received;
};

const failThen200 = (failures: number) => (_req: unknown, res: import('node:http').ServerResponse, _d: unknown, i: number) => {
  if (i < failures) {
    res.writeHead(503, { 'content-type': 'text/plain', 'set-cookie': 'server-secret=s3rv3r' });
    res.end(`response-body-secret ${i}`);
  } else res.end('ok');
};

describe('diagnostics channels', () => {
  test('CHANNELS names every event type as resilient-fetch:<type>', () => {
    for (const [type, name] of Object.entries(CHANNELS)) {
      expect(name).toBe(`resilient-fetch:${type}`);
      expect(channelName(type as ResilientEvent['type'])).toBe(name);
    }
  });

  test('a subscriber to resilient-fetch:retry gets each retry with its resend count, same as onEvent', async ({ server }) => {
    server.handle(failThen200(2));
    const fromChannel: RetryEvent[] = [];
    const listener = (message: unknown) => void fromChannel.push(message as RetryEvent);
    diagnostics.subscribe('resilient-fetch:retry', listener);
    onTestFinished(() => void diagnostics.unsubscribe('resilient-fetch:retry', listener));
    const fromCallback: ResilientEvent[] = [];
    const res = await client({ onEvent: (e) => fromCallback.push(e) })(server.url);
    expect(res.status).toBe(200);
    expect(fromChannel).toHaveLength(2);
    expect(fromChannel.map((e) => [e.type, e.host, e.attempt, e.resendCount, e.reason])).toEqual([
      ['retry', server.origin, 1, 1, 'status 503'],
      ['retry', server.origin, 2, 2, 'status 503'],
    ]);
    expect(fromCallback.filter((e) => e.type === 'retry')).toEqual(fromChannel);
  });

  test('give-up reports the resend count of the last attempt sent', async ({ server }) => {
    server.handle((_req, res) => {
      res.writeHead(503, { 'retry-after': '3600' });
      res.end();
    });
    const received = subscribeAll();
    const res = await client()(server.url);
    expect(res.status).toBe(503);
    // The 503's Retry-After also pauses the origin's retries (server pushback), announced first.
    expect(received.map((r) => r.channel)).toEqual(['resilient-fetch:pushback', 'resilient-fetch:give-up']);
    expect(received[1]?.message).toMatchObject({ type: 'give-up', attempt: 1, resendCount: 0 });
  });

  test('no event carries header values, cookies, query strings or bodies', async ({ server }) => {
    server.handle(failThen200(2));
    const received = subscribeAll();
    const events: ResilientEvent[] = [];
    const fetch = client({ onEvent: (e) => events.push(e) });
    const res = await fetch(`http://127.0.0.1:${server.port}/path?token=query-secret`, {
      method: 'PUT',
      headers: { Authorization: 'Bearer authz-secret', Cookie: 'session=cookie-secret', 'X-Api-Key': 'key-secret' },
      body: 'request-body-secret',
    });
    expect(res.status).toBe(200);
    // The server did get the secrets: the check below is not vacuous.
    expect(server.deliveries[0]?.headers.authorization).toBe('Bearer authz-secret');
    expect(server.deliveries[0]?.body.toString()).toBe('request-body-secret');
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(received.map((r) => r.message)).toEqual(events);
    const json = JSON.stringify(events);
    for (const secret of [
      'authz-secret',
      'cookie-secret',
      'key-secret',
      'query-secret',
      'request-body-secret',
      'response-body-secret',
      's3rv3r',
    ]) {
      expect(json).not.toContain(secret);
    }
    for (const event of events) expect(event.host).toBe(server.origin);
  });

  test('nothing is published when no one subscribes, and onEvent still fires', async ({ server }) => {
    server.handle(failThen200(1));
    expect(diagnostics.hasSubscribers(CHANNELS.retry)).toBe(false);
    const events: ResilientEvent[] = [];
    await client({ onEvent: (e) => events.push(e) })(server.url);
    expect(events.map((e) => e.type)).toEqual(['retry']);
  });

  test('a throwing onEvent does not break the call; it becomes a process warning', async ({ server }) => {
    server.handle(failThen200(1));
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    onTestFinished(() => void process.off('warning', onWarning));
    const res = await client({
      onEvent: () => {
        throw new Error('listener bug');
      },
    })(server.url);
    expect(res.status).toBe(200);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.some((w) => /onEvent threw: Error: listener bug/.test(w.message))).toBe(true);
  });

  test('stats() is plain JSON per origin and survives a JSON round trip unchanged', async ({ server }) => {
    server.handle(failThen200(1));
    const fetch = client();
    await (await fetch(server.url)).text();
    await (await fetch(`${server.url}again`)).text();
    const stats = fetch.stats();
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
    expect(Object.keys(stats.hosts)).toEqual([server.origin]);
    expect(stats.hosts[server.origin]).toMatchObject({ calls: 2, attempts: 3, retries: 1, failures: 0 });
  });
});
