/** Smoke tests of the servers the rolling-restart and overload bench scenarios run against. */
import { describe, expect, onTestFinished, test } from 'vitest';
import { startCapacityServer } from '../../bench/lib/capacity-server.js';
import { startInstances } from '../../bench/lib/instances.js';
import { tagged } from '../../bench/lib/scenario.js';

const get = async (url: string, run: string, index: number): Promise<number> => {
  const { headers } = tagged(url, run, index);
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
};

describe('capacity-limited server (overload scenario)', () => {
  test('serves at most `capacity` at once, rejects the excess with 503 at once, and the rejection stays in service', async () => {
    // Long service and rejection times, so the counts below hold however slow the machine is.
    const server = await startCapacityServer({ capacity: 2, serviceMs: 2_000, rejectCostMs: 1_500, windowMs: 250 });
    onTestFinished(() => server.close());
    server.mark();
    const served = [get(server.origin, 'cap', 0), get(server.origin, 'cap', 1)];
    while (server.inService() < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await get(server.origin, 'cap', 2)).toBe(503);
    // Two served and one rejection still costing the server: in service exceeds capacity.
    expect(server.inService()).toBe(3);
    expect(await Promise.all(served)).toEqual([200, 200]);
    expect(server.stats('cap')).toEqual({ deliveries: 3, calls: 3, maxPerCall: 1, accepted: 2, rejected: 1 });
    const timeline = server.timeline();
    expect(timeline.reduce((sum, w) => sum + w.accepted, 0)).toBe(2);
    expect(timeline.reduce((sum, w) => sum + w.rejected, 0)).toBe(1);
    expect(timeline.reduce((sum, w) => sum + w.completed, 0)).toBe(2);
    expect(Math.max(...timeline.map((w) => w.maxInService))).toBe(3);
  });
});

describe('restartable instances (rolling-restart scenario)', () => {
  test('a downed instance refuses connections, comes back on the same port, and deliveries are counted per instance', async () => {
    const instances = await startInstances(2, 0);
    onTestFinished(() => instances.close());
    const [a, b] = instances.origins as [string, string];
    expect(await get(`${a}/x`, 'rr', 0)).toBe(200);
    await instances.down(0);
    expect(instances.isUp(0)).toBe(false);
    const refused = await get(`${a}/x`, 'rr', 1).catch((error: unknown) => error);
    expect(((refused as { cause?: { code?: string } }).cause ?? {}).code).toBe('ECONNREFUSED');
    expect(await get(`${b}/x`, 'rr', 1)).toBe(200);
    await instances.up(0);
    expect(instances.origins[0]).toBe(a);
    expect(await get(`${a}/x`, 'rr', 1)).toBe(200);
    expect(instances.stats('rr')).toEqual({ deliveries: 3, calls: 2, maxPerCall: 2, perInstance: [2, 1], cutOff: 0 });
  });
});
