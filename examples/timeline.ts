/**
 * A timeline of one call's attempts: the server answers 503, then drops the connection, then 200.
 * The client's events (retry, give-up, ...) and the server's arrivals are logged on one clock.
 *
 *   node --import tsx examples/timeline.ts
 */
import { createFetch, type ResilientEvent } from '../src/index.js'; // 'resilient-fetch' in your code
import { serve } from './local-server.js';

const started = performance.now();
const log = (who: string, line: string) =>
  console.log(`${String(Math.round(performance.now() - started)).padStart(5)} ms  ${who.padEnd(6)} ${line}`);

const server = await serve((req, res, n) => {
  log('server', `request #${n + 1} arrived (${req.method} ${req.url})`);
  if (n === 0) {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('busy');
  } else if (n === 1) {
    req.socket.destroy(); // connection reset before any response
  } else res.end('{"items":[1,2,3]}');
});

const describe = (event: ResilientEvent): string => {
  switch (event.type) {
    case 'retry':
      return `attempt ${event.attempt} failed (${event.reason}); next attempt has http.request.resend_count=${event.resendCount}, in ${event.delay} ms`;
    case 'give-up':
      return `attempt ${event.attempt} failed (${event.reason}); giving up: ${event.why}`;
    default:
      return JSON.stringify(event);
  }
};

const fetch = createFetch({
  defaults: { retry: { limit: 3, backoff: { base: 50, max: 200 } } },
  onEvent: (event) => log('client', describe(event)),
});

try {
  log('client', `GET ${server.url}items`);
  const res = await fetch(`${server.url}items`);
  log('client', `${res.status} ${await res.text()}`);
  const stats = fetch.stats().hosts[server.origin];
  console.log(`timeline done: ${stats?.attempts} attempts, ${stats?.retries} retries for one call`);
} finally {
  await fetch.close();
  await server.close();
}
