#!/usr/bin/env bash
# Packaging check: build, lint the package (publint, @arethetypeswrong/cli), then install the
# `npm pack` tarball into a fresh temporary project and use it from `import`, from `require`,
# through the `bin`, and from a TypeScript consumer type-checked with skipLibCheck off.
# Dependencies of the tarball come from the npm registry. Set SKIP_BUILD=1 to reuse dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

[[ "${SKIP_BUILD:-}" == 1 ]] || npm run --silent build

echo "== publint"
npx --no-install publint --strict
echo "== @arethetypeswrong/cli"
npx --no-install attw --pack . --format ascii

tmp="$(mktemp -d "${TMPDIR:-/tmp}/rf-package-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "== npm pack + install into $tmp"
tarball="$(npm pack --silent --pack-destination "$tmp" | tail -n 1)"
cd "$tmp"
cat > package.json <<'JSON'
{ "name": "rf-consumer", "version": "0.0.0", "private": true }
JSON
# @types/node matches the oldest supported Node; nothing else but the tarball and its dependencies.
npm install --silent --no-audit --no-fund --ignore-scripts "./$tarball" "@types/node@20"

# A local server both smoke scripts talk to; its port goes to them through RF_URL.
cat > server.mjs <<'JS'
import http from 'node:http';
import { spawn } from 'node:child_process';
let hits = 0;
const server = http.createServer((req, res) => {
  // First request of each client path fails once, so a retry happens through the installed package.
  if (hits++ % 2 === 0) { res.writeHead(503); res.end('busy'); } else res.end(`hello ${req.url}`);
});
server.listen(0, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  const [cmd, ...args] = process.argv.slice(2);
  const child = spawn(cmd, args.map((a) => a.replace('RF_URL', url)), { stdio: 'inherit' });
  child.on('exit', (code) => { server.close(); server.closeAllConnections(); process.exitCode = code ?? 1; });
});
JS

cat > esm.mjs <<'JS'
import assert from 'node:assert/strict';
import { createFetch, install, CHANNELS, CircuitOpenError, DEFAULTS } from 'resilient-fetch';
const events = [];
const fetch = createFetch({ defaults: { retry: { backoff: { base: 1, max: 5 } } }, onEvent: (e) => events.push(e) });
const res = await fetch(`${process.argv[2]}/esm`);
assert.ok(res instanceof Response);
assert.equal(await res.text(), 'hello /esm');
assert.deepEqual(events.map((e) => [e.type, e.resendCount]), [['retry', 1]]);
assert.equal(CHANNELS.retry, 'resilient-fetch:retry');
assert.equal(typeof CircuitOpenError, 'function');
assert.equal(DEFAULTS.retry.limit, 2);
await fetch.close();
const before = globalThis.fetch;
const restore = install();
assert.notEqual(globalThis.fetch, before);
await restore();
assert.equal(globalThis.fetch, before);
console.log('import: ok');
// resilient-fetch/chaos: an outcome answered without the network, then faults under the layers.
const { chaos, networkError } = await import('resilient-fetch/chaos');
const stub = chaos({ outcome: { status: 503, body: 'chaos' }, rate: 1, seed: 1 });
const busy = await stub(`${process.argv[2]}/never-sent`);
assert.equal(busy.status, 503);
assert.equal(await busy.text(), 'chaos');
assert.equal(stub.stats().passedThrough, 0);
assert.equal(networkError().cause.code, 'ECONNRESET');
const faulty = chaos({ fault: true, rate: 0.5, seed: 7 });
const layered = createFetch({ fetch: faulty, defaults: { retry: { limit: 8, backoff: { base: 1, max: 5 } } } });
const saved = await layered(`${process.argv[2]}/chaos`);
assert.equal(saved.status, 200);
assert.equal(await saved.text(), 'hello /chaos');
assert.ok(faulty.stats().calls > 1);
await layered.close();
console.log('import resilient-fetch/chaos: ok');
JS

cat > cjs.cjs <<'JS'
const assert = require('node:assert/strict');
const { createFetch, CHANNELS, isCircuitOpenError } = require('resilient-fetch');
(async () => {
  const fetch = createFetch({ defaults: { retry: { backoff: { base: 1, max: 5 } } } });
  const res = await fetch(`${process.argv[2]}/cjs`);
  assert.ok(res instanceof Response);
  assert.equal(await res.text(), 'hello /cjs');
  assert.equal(fetch.stats().hosts[new URL(process.argv[2]).origin].retries, 1);
  assert.equal(CHANNELS.breaker, 'resilient-fetch:breaker');
  assert.equal(isCircuitOpenError(new Error('x')), false);
  await fetch.close();
  console.log('require: ok');
  const { chaos } = require('resilient-fetch/chaos');
  const stub = chaos({ fault: 'ECONNREFUSED', rate: 1, seed: 3 });
  const error = await stub(`${process.argv[2]}/never-sent`).catch((e) => e);
  assert.ok(error instanceof TypeError);
  assert.equal(error.cause.code, 'ECONNREFUSED');
  assert.equal(stub.seed, 3);
  console.log('require resilient-fetch/chaos: ok');
})().catch((error) => { console.error(error); process.exitCode = 1; });
JS

cat > consumer.mts <<'TS'
import { createFetch, CHANNELS, type ResilientEvent, type ResilientFetch, type Policy } from 'resilient-fetch';
import { chaos, type ChaosFetch, type ChaosOptions, type ChaosRequest } from 'resilient-fetch/chaos';
const policy: Policy = { retry: { limit: 3, backoff: { base: 50, jitter: 'full' } }, hedge: { delay: 'auto' } };
const fetch: ResilientFetch = createFetch({
  defaults: policy,
  hosts: { 'api.example.com': { breaker: { volumeThreshold: 5 } } },
  onEvent: (event: ResilientEvent) => {
    if (event.type === 'retry') console.log(event.resendCount.toFixed(0), event.reason.toUpperCase());
  },
});
const channel: 'resilient-fetch:retry' = CHANNELS.retry;
const chaotic: ChaosFetch = chaos({ outcome: { status: 503, headers: { 'retry-after': '1' } }, rate: 0.3, seed: 42 });
createFetch({ fetch: chaotic }).stats();
const later: ChaosOptions = { fault: true, latency: (r: ChaosRequest) => r.index % 10, rate: () => 0.5, enabled: false };
chaos(later);
// @ts-expect-error retry.limit is a number
createFetch({ defaults: { retry: { limit: 'two' } } });
export const use = async (): Promise<string> => (await fetch('https://api.example.com', { policy: { hedge: false } })).text() + channel;
TS
cat > consumer.cts <<'TS'
import resilient = require('resilient-fetch');
const fetch: resilient.ResilientFetch = resilient.createFetch({ defaults: { timeout: { attempt: 1_000, total: 5_000 } } });
export const stats: resilient.FetchStats = fetch.stats();
import chaotic = require('resilient-fetch/chaos');
export const faulty: chaotic.ChaosFetch = chaotic.chaos({ fault: new TypeError('fetch failed'), rate: 1 });
TS
cat > tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "module": "NodeNext", "moduleResolution": "NodeNext", "target": "ES2022",
    "lib": ["ES2023", "DOM", "ESNext.Disposable"], "types": ["node"],
    "strict": true, "exactOptionalPropertyTypes": true, "noEmit": true, "skipLibCheck": false
  },
  "files": ["consumer.mts", "consumer.cts"]
}
JSON

echo "== the main entry does not load resilient-fetch/chaos"
if grep -rlE "from ['\"][./]+chaos\.js['\"]" --include='*.js' node_modules/resilient-fetch/dist/esm ||
  grep -l 'chaos: options need' node_modules/resilient-fetch/dist/cjs/index.cjs; then
  echo "the main entry contains the chaos code" >&2; exit 1
fi
node -e "require('resilient-fetch'); const loaded = Object.keys(require.cache).filter((f) => /chaos/.test(f)); if (loaded.length) { console.error(loaded); process.exit(1) }"
echo "== smoke: import, require, bin"
node server.mjs node esm.mjs RF_URL
node server.mjs node cjs.cjs RF_URL
out="$(node server.mjs ./node_modules/.bin/resilient-fetch RF_URL/bin)"
[[ "$out" == "hello /bin" ]] || { echo "bin printed: $out" >&2; exit 1; }
echo "bin: ok"
echo "== type-check a consumer (ESM + CJS, skipLibCheck off)"
node "$root/node_modules/typescript/bin/tsc" -p tsconfig.json
echo "types: ok"
echo "check-package: all good"
