/**
 * Replace the global fetch: every `fetch()` in the process (your code and your dependencies')
 * gets retries, timeouts and breakers; `restore()` puts exactly the previous fetch back.
 *
 *   node --import tsx examples/install.ts
 */
import { install } from '../src/index.js'; // 'resilient-fetch' in your code
import { serve } from './local-server.js';

// A flaky service: every other request gets a 503.
const server = await serve((_req, res, n) => {
  if (n % 2 === 0) {
    res.writeHead(503);
    res.end('busy');
  } else res.end(`hello #${n}`);
});

const original = globalThis.fetch;
const restore = install({
  defaults: { retry: { limit: 2, backoff: { base: 20, max: 200 } } },
  onEvent: (event) => console.log(`  event: ${event.type} ${event.host} ${'reason' in event ? event.reason : ''}`),
});

try {
  // Plain fetch calls, unchanged, now go through resilient-fetch.
  for (const path of ['a', 'b']) {
    const res = await fetch(`${server.url}${path}`);
    console.log(`GET /${path} -> ${res.status} ${await res.text()}`);
  }
  console.log('stats:', JSON.stringify(restore.fetch.stats().hosts[server.origin]));
} finally {
  await restore(); // closes the client too
  await server.close();
}
console.log(globalThis.fetch === original ? 'global fetch restored' : 'global fetch NOT restored');
if (globalThis.fetch !== original) process.exitCode = 1;
