import { createFetch } from '../src/index.js';
import { startFaultServer } from './support/faults.js';
const server = await startFaultServer();
const fetch = createFetch();
const gc = (globalThis as any).gc;
const withGc = process.argv[2] === 'gc';
gc();
const base = process.memoryUsage();
let peak = 0, peakRss = 0, maxRead = 0;
let index = 0;
const body = new ReadableStream<Uint8Array>({
  pull(c) { if (index === 1600) return c.close(); c.enqueue(new Uint8Array(65536).fill(index++ & 255)); },
});
const sampler = setInterval(() => {
  if (withGc) gc();
  const m = process.memoryUsage();
  peak = Math.max(peak, m.heapUsed + m.arrayBuffers - base.heapUsed - base.arrayBuffers);
  peakRss = Math.max(peakRss, m.rss - base.rss);
  const arr = server.arrivalsFor('big')[0];
  maxRead = Math.max(maxRead, index * 65536 / 1048576);
}, 20);
const t = performance.now();
const res = await fetch(server.url, { method: 'PUT', body, duplex: 'half', headers: { 'x-call-id': 'big', 'x-fault': '503' } } as any);
clearInterval(sampler);
console.log(res.status, Math.round(performance.now() - t), 'ms; peak heap+ab MB', (peak / 1048576).toFixed(1), 'rss', (peakRss / 1048576).toFixed(1), server.arrivalsFor('big')[0]?.bytes);
await fetch.close(); await server.close();
