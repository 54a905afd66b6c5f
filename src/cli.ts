#!/usr/bin/env node
/**
 * `resilient-fetch <url> [options]`: one call through the resilient pipeline, curl style. The body
 * goes to stdout; `-v` writes a timeline of attempts, retries, hedges and breaker decisions to
 * stderr. Exit codes follow curl: 0 success, 2 usage, 3 malformed URL, 6 DNS failure, 7 could not
 * connect (or breaker open), 22 HTTP >= 400 with `--fail`, 28 timeout, 56 other network failure.
 */
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { errorCodes } from './policy/classify.js';
import { createFetch, type ResilientFetch } from './client.js';
import type { ResilientEvent } from './diagnostics.js';
import { isCircuitOpenError } from './errors.js';
import type { Policy } from './options.js';

export const HELP = `Usage: resilient-fetch <url> [options]

A fetch with retries, hedged requests and per-host circuit breaking. Prints the response body.

Options:
  -X, --request METHOD   HTTP method (default GET, or POST with -d)
  -H, --header 'k: v'    request header; repeat for more
  -d, --data DATA        request body; @file reads it from a file (sets POST and, unless a
                         content-type is given, application/x-www-form-urlencoded, as curl does)
      --retry N          retries after the first attempt (default 2; 0 turns retrying off)
      --hedge MS|auto    send a hedge after MS milliseconds, or at the host's learned p95
      --breaker          use a circuit breaker for the host (off in the CLI by default)
      --timeout MS       total time for the call, back-offs included (default 30000)
  -f, --fail             on HTTP status >= 400 print nothing to stdout and exit 22
  -v, --verbose          timeline of attempts, retries, hedges and breaker decisions on stderr
  -h, --help             this help

Exit codes (as curl): 0 success, 2 usage error, 3 malformed URL, 6 could not resolve host,
7 could not connect or breaker open, 22 HTTP >= 400 with --fail, 28 timeout, 56 other network failure.
`;

/** curl's exit codes for the failures a fetch can have. */
export const EXIT = { ok: 0, usage: 2, url: 3, resolve: 6, connect: 7, http: 22, timeout: 28, network: 56 } as const;

class UsageError extends Error {}

const integer = (value: string, flag: string, min: number): number => {
  if (!/^\d+$/.test(value) || Number(value) < min)
    throw new UsageError(`${flag} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return Number(value);
};

type Parsed = { url: URL; init: RequestInit; policy: Policy; fail: boolean; verbose: boolean } | 'help';

export const parse = async (argv: readonly string[]): Promise<Parsed> => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        request: { type: 'string', short: 'X' },
        header: { type: 'string', short: 'H', multiple: true },
        data: { type: 'string', short: 'd' },
        retry: { type: 'string' },
        hedge: { type: 'string' },
        breaker: { type: 'boolean' },
        timeout: { type: 'string' },
        fail: { type: 'boolean', short: 'f' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1)
    throw new UsageError(positionals.length === 0 ? 'a URL is required' : `one URL expected, got ${positionals.length}`);

  const headers = new Headers();
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new UsageError(`-H expects 'name: value', got ${JSON.stringify(header)}`);
    try {
      headers.append(header.slice(0, colon).trim(), header.slice(colon + 1).trim());
    } catch {
      throw new UsageError(`-H has an invalid header: ${JSON.stringify(header)}`);
    }
  }
  let body: Uint8Array<ArrayBuffer> | string | undefined;
  if (values.data !== undefined) {
    if (values.data.startsWith('@')) {
      try {
        body = new Uint8Array(await readFile(values.data.slice(1)));
      } catch (error) {
        throw new UsageError(`-d ${values.data}: ${(error as Error).message}`);
      }
    } else body = values.data;
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
  }
  const policy: Policy = { breaker: false };
  if (values.retry !== undefined) policy.retry = integer(values.retry, '--retry', 0);
  if (values.hedge !== undefined)
    policy.hedge = { delay: values.hedge === 'auto' ? 'auto' : integer(values.hedge, '--hedge', 0) };
  if (values.breaker) policy.breaker = true;
  if (values.timeout !== undefined) policy.timeout = { total: integer(values.timeout, '--timeout', 1) };

  let url: URL;
  try {
    url = new URL(positionals[0]!);
  } catch {
    throw Object.assign(new UsageError(`malformed URL: ${positionals[0]}`), { exit: EXIT.url });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw Object.assign(new UsageError(`unsupported protocol: ${url.protocol}`), { exit: EXIT.url });
  }
  const method = values.request ?? (body === undefined ? 'GET' : 'POST');
  if (body !== undefined && /^(GET|HEAD)$/i.test(method))
    throw new UsageError(`-d cannot be used with ${method.toUpperCase()}: fetch sends no body with it`);
  const init: RequestInit = { method, headers, ...(body !== undefined && { body }) };
  return { url, init, policy, fail: values.fail ?? false, verbose: values.verbose ?? false };
};

/** One line of the `-v` timeline for an event. */
export const describeEvent = (event: ResilientEvent): string => {
  switch (event.type) {
    case 'retry':
      return `attempt ${event.attempt} failed (${event.reason}); retry with resend_count ${event.resendCount} in ${event.delay} ms`;
    case 'give-up':
      return `attempt ${event.attempt} failed (${event.reason}); not retrying: ${event.why}`;
    case 'hedge':
      return `hedge ${event.branch} sent after ${event.after} ms`;
    case 'hedge-win':
      return `branch ${event.branch} won after ${event.elapsed} ms`;
    case 'breaker':
      return `breaker for ${event.host}: ${event.from} -> ${event.to}`;
    case 'budget-exhausted':
      return `${event.kind} budget exhausted for ${event.host}`;
    case 'fallback':
      return `breaker fallback used (${event.reason})`;
    case 'throttle':
      return `throttled locally (rejecting ${(event.probability * 100).toFixed(1)} %)`;
    case 'pushback':
      return `server pushback (status ${event.status})`;
    case 'ejection':
      return `upstream ${event.host} ejected for ${event.duration} ms (${event.reason})`;
    case 'bulkhead-rejected':
      return `bulkhead for ${event.host} rejected the request (${event.reason}; limit ${event.limit}, ${event.queued} queued)`;
    case 'concurrency-limit':
      return `concurrency limit for ${event.host}: ${event.from} -> ${event.to}`;
  }
};

/** The exit code for a rejected call. */
export const exitFor = (error: unknown): number => {
  if (error instanceof DOMException && error.name === 'TimeoutError') return EXIT.timeout;
  if (isCircuitOpenError(error)) return EXIT.connect;
  const codes = errorCodes(error);
  if (codes.some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN')) return EXIT.resolve;
  if (codes.includes('UND_ERR_CONNECT_TIMEOUT') || codes.includes('UND_ERR_HEADERS_TIMEOUT')) return EXIT.timeout;
  if (codes.some((c) => c === 'ECONNREFUSED' || c === 'EHOSTUNREACH' || c === 'ENETUNREACH')) return EXIT.connect;
  return EXIT.network;
};

/** Runs the CLI; resolves to the exit code. Streams are parameters so tests can run it in-process. */
export const main = async (
  argv: readonly string[],
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<number> => {
  let parsed: Parsed;
  try {
    parsed = await parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr.write(`resilient-fetch: ${error.message}\nTry 'resilient-fetch --help'.\n`);
    return (error as UsageError & { exit?: number }).exit ?? EXIT.usage;
  }
  if (parsed === 'help') {
    stdout.write(HELP);
    return EXIT.ok;
  }
  const { url, init, policy, fail, verbose } = parsed;
  const started = performance.now();
  const log = (line: string) => {
    if (verbose) stderr.write(`* [${String(Math.round(performance.now() - started)).padStart(5)} ms] ${line}\n`);
  };
  let fetch: ResilientFetch;
  try {
    fetch = createFetch({ defaults: policy, onEvent: (event) => log(describeEvent(event)) });
  } catch (error) {
    stderr.write(`resilient-fetch: ${(error as Error).message}\n`);
    return EXIT.usage;
  }
  try {
    log(`${init.method} ${url.href}`);
    const res = await fetch(url, init);
    log(`${res.status} ${res.statusText} (${fetch.stats().hosts[url.origin]?.attempts ?? 0} attempt(s) sent)`);
    if (fail && res.status >= 400) {
      await res.body?.cancel();
      stderr.write(`resilient-fetch: (22) The requested URL returned error: ${res.status}\n`);
      return EXIT.http;
    }
    if (res.body) {
      const reader = res.body.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        if (!stdout.write(chunk.value)) await once(stdout, 'drain');
      }
    }
    return EXIT.ok;
  } catch (error) {
    const code = exitFor(error);
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    log(`failed: ${(error as Error).message}${cause ? ` (${cause})` : ''}`);
    stderr.write(`resilient-fetch: (${code}) ${(error as Error).message}${cause ? `: ${cause}` : ''}\n`);
    return code;
  } finally {
    await fetch.close();
  }
};

// Run when executed as a program (the `bin`), not when imported.
const invokedAs = process.argv[1] ?? '';
if (/(?:^|[\\/])(?:cli\.(?:js|ts)|resilient-fetch)$/.test(invokedAs)) {
  // `resilient-fetch URL | head`: a closed pipe ends the output quietly, as in curl.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`resilient-fetch: ${String((error as Error)?.stack ?? error)}\n`);
      process.exitCode = 1;
    },
  );
}
