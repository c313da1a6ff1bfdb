/**
 * One worker process of the rotation drill: a small app that calls the OpenAI API (the mock provider) at a
 * steady rate through the real `openai` SDK, and reports every request's outcome to the drill over IPC.
 *
 * - `live` (the fleet): declares the key through keyflip — `OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1` (pair
 *   layout, the default), `OPENAI_API_KEY_v4 ?? … ?? OPENAI_API_KEY_v1` (legacy suffix) or
 *   `OPENAI_API_KEY@current ?? OPENAI_API_KEY@previous` (alias), one chain for the whole drill — read
 *   from Secret Manager (the emulator, through the real @google-cloud/secret-manager client over gRPC;
 *   SECRET_MANAGER_EMULATOR_HOST), and sends requests with `fetch: authFetch(key, providers.openai)`.
 * - `stale`: reads `process.env.OPENAI_API_KEY` once at start-up, as code that reads the environment does,
 *   and never looks again. It declares `env:OPENAI_API_KEY` only so that its beacon says which key it holds.
 *
 * Both beacon to the collector over HTTP (`httpSink`). The worker prints nothing; it never sends a key to
 * the drill, only fingerprints (of the key each HTTP attempt actually carried) and numbers.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import OpenAI from 'openai';
import { createResolver, envSource, fingerprint, type Resolver, type SecretHandle, type Source } from '../src/index.js';
import { httpSink, usageBeacon } from '../src/beacon/index.js';
import { authFetch, providers } from '../src/clients/index.js';
import { gcpSecretManager } from '../src/sources/gcp.js';
import type { Attempt, DrillMessage, RequestRecord, WalkRecord, WorkerConfig, WorkerMessage } from './protocol.js';

const REQUEST_HEADER = 'x-drill-request';

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** The drill went away: this worker has no one to report to, so it leaves at once. */
process.on('disconnect', () => process.exit(0));

async function main(): Promise<void> {
  const config = JSON.parse(process.env.DRILL_WORKER_CONFIG ?? '') as WorkerConfig;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const token = process.env.KEYFLIP_COLLECTOR_TOKEN;
  const instanceId = `drill-${config.mode}-${config.index}`;

  const walks: WalkRecord[] = [];
  const errors: Record<string, number> = {};
  let walkStart: number | undefined;

  let sources: Source[];
  if (config.mode === 'live') {
    const gcp = gcpSecretManager({ projectId: config.projectId });
    // The same source, noting when each walk of the chain starts (its first candidate is asked first).
    const first = config.chain.split('??')[0]?.trim();
    const watched: Source = {
      name: gcp.name,
      fetch: (ref, ctx) => {
        if (first === (ref.version === undefined ? ref.name : `${ref.name}@${ref.version}`)) walkStart = Date.now();
        return gcp.fetch(ref, ctx);
      },
      ...(gcp.validate ? { validate: (ref) => gcp.validate?.(ref) } : {}),
      close: () => gcp.close?.() ?? Promise.resolve(),
    };
    sources = [watched];
  } else {
    sources = [envSource()];
  }

  const sink = httpSink({ url: config.collectorUrl, token, backoffMs: 100, closeTimeoutMs: 2_000 });
  const resolver: Resolver = createResolver({
    sources,
    refreshMs: config.mode === 'live' ? config.refreshMs : 24 * 3_600_000, // the stale worker: never
    jitter: config.jitter,
    fetchTimeoutMs: 5_000,
    startupTimeoutMs: 120_000, // a fleet starting on two cores: the first fetch loads the Secret Manager SDK
    beacon: usageBeacon({
      sink,
      service: config.service,
      intervalMs: config.beaconMs,
      instanceId,
      labels: { drill: config.mode },
    }),
  });
  const key: SecretHandle<string> = resolver.secret(config.secret, config.chain);
  resolver.on('resolve', ({ info }) => {
    const t1 = Date.now();
    walks.push([walkStart ?? t1, t1, info.fingerprint]);
    walkStart = undefined;
  });
  resolver.on('error', ({ error }) => {
    errors[error.code] = (errors[error.code] ?? 0) + 1;
  });
  resolver.on('revoke', () => {
    errors.REVOKED = (errors.REVOKED ?? 0) + 1;
    const t1 = Date.now();
    walks.push([walkStart ?? t1, t1, 'revoked']);
    walkStart = undefined;
  });
  await resolver.ready();

  // Every HTTP attempt, seen below authFetch: which key it really carried, and the answer.
  const attempts = new Map<number, Attempt[]>();
  const observe: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    const id = Number(headers.get(REQUEST_HEADER));
    const auth = headers.get('authorization') ?? '';
    const attempt: Attempt = [fingerprint(auth.replace(/^Bearer /, '')), 0, Date.now(), 0];
    attempts.get(id)?.push(attempt);
    try {
      const response = await fetch(input, init);
      attempt[1] = response.status;
      return response;
    } finally {
      attempt[3] = Date.now();
    }
  };

  // maxRetries 0: every failure reaches the drill as it happened. A 60 s timeout (the SDK's default is 10
  // minutes): on a saturated machine a slow answer is latency, which the drill reports, not a failure.
  let client: OpenAI;
  if (config.mode === 'live') {
    client = new OpenAI({
      apiKey: 'set-by-keyflip',
      baseURL: config.baseUrl,
      maxRetries: 0,
      timeout: 60_000,
      fetch: authFetch(key, providers.openai, { fetch: observe }),
    });
  } else {
    // The key as code that reads the environment has it: once, at start-up.
    const apiKey = process.env.OPENAI_API_KEY;
    client = new OpenAI({ apiKey, baseURL: config.baseUrl, maxRetries: 0, timeout: 60_000, fetch: observe });
  }

  let records: RequestRecord[] = [];
  const failures: Record<string, number> = {};
  let skipped = 0;
  let inFlight = 0;
  let nextId = 1;
  let stopping = false;
  const drained: Array<() => void> = [];

  const request = async (): Promise<void> => {
    const id = nextId++;
    const mine: Attempt[] = [];
    attempts.set(id, mine);
    inFlight++;
    const t0 = Date.now();
    const call = () =>
      client.chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 },
        { headers: { [REQUEST_HEADER]: String(id) } },
      );
    let outcome = 200;
    let failedClosed: 0 | 1 = 0;
    try {
      await call();
    } catch (error) {
      outcome = error instanceof OpenAI.APIError && typeof error.status === 'number' ? error.status : 0;
      if (causes(error).includes('SECRET_REVOKED')) failedClosed = 1; // keyflip served no key: nothing was sent
      const kind = `${outcome} ${errorKind(error)}`;
      failures[kind] = (failures[kind] ?? 0) + 1;
    }
    records.push([id, t0, Date.now(), outcome, mine, failedClosed]);
    attempts.delete(id);
    inFlight--;
    if (inFlight === 0) for (const done of drained.splice(0)) done();
  };

  const flush = (): void => {
    if (records.length === 0 && walks.length === 0 && skipped === 0 && Object.keys(errors).length === 0) return;
    void send({
      type: 'batch',
      requests: records,
      walks: walks.splice(0),
      skipped,
      errors: { ...errors },
      failures: { ...failures },
    });
    records = [];
    skipped = 0;
    for (const code of Object.keys(errors)) delete errors[code];
    for (const kind of Object.keys(failures)) delete failures[kind];
  };
  const flusher = setInterval(flush, config.flushMs);

  // A steady rate, once the drill says so (the whole fleet is up): one request per slot, slots
  // `1000 / rate` ms apart from a random phase; a slot that comes late is not made up for (no bursts), and
  // one that finds `maxInFlight` requests in flight is skipped and counted.
  const interval = 1000 / config.rate;
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    timer = undefined;
    if (stopping) return;
    if (inFlight >= config.maxInFlight) skipped++;
    else void request();
    next = Math.max(next + interval, Date.now());
    timer = setTimeout(tick, next - Date.now());
  };
  const startTraffic = (): void => {
    if (stopping || timer !== undefined || next !== 0) return;
    next = Date.now() + Math.random() * interval;
    timer = setTimeout(tick, next - Date.now());
  };

  // From here on: the steady state (start-up, which loads the SDKs synchronously, is not counted).
  loopDelay.enable();
  const cpuAtReady = process.cpuUsage();
  void send({
    type: 'ready',
    pid: process.pid,
    instanceId,
    fingerprint: key.info?.fingerprint ?? '',
    at: Date.now(),
    startupMs: Math.round(process.uptime() * 1000),
  });

  process.on('message', (message: DrillMessage) => {
    if (message?.type === 'start') return startTraffic();
    if (message?.type !== 'stop' || stopping) return;
    stopping = true;
    if (timer) clearTimeout(timer);
    void (async () => {
      // Let the requests in flight finish (bounded), report them, then close: the last beacon goes out.
      if (inFlight > 0)
        await Promise.race([
          new Promise<void>((resolve) => drained.push(resolve)),
          new Promise((resolve) => setTimeout(resolve, 5_000)),
        ]);
      clearInterval(flusher);
      flush();
      const cpu = process.cpuUsage(cpuAtReady);
      await resolver.close();
      const beacon = resolver.beaconStats();
      await send({
        type: 'done',
        at: Date.now(),
        beacon: beacon && {
          reports: beacon.reports,
          sent: beacon.sent,
          failed: beacon.failed,
          dropped: beacon.dropped,
        },
        loopDelayMs: { p99: Math.round(loopDelay.percentile(99) / 1e6), max: Math.round(loopDelay.max / 1e6) },
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
        requests: nextId - 1,
      });
      process.exit(0);
    })();
  });
}

/** The codes of an error and of its causes (`SECRET_REVOKED`, `ECONNRESET`). */
function causes(error: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = error;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const { code } = e as { code?: unknown };
    if (typeof code === 'string') codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/** An error's class, and its causes' codes (`APIConnectionError TypeError UND_ERR_SOCKET`): never its message. */
function errorKind(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const { code } = e as { code?: unknown };
    // The class: the SDK's errors do not set `name` (an APIConnectionTimeoutError's is 'Error').
    const name = (e as { constructor?: { name?: unknown } }).constructor?.name ?? (e as { name?: unknown }).name;
    parts.push(typeof code === 'string' ? `${String(name)}:${code}` : String(name));
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(' ← ');
}

main().catch((error: unknown) => {
  // The name and code only: an error's message is not printed (it could quote something it should not).
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
  void send({
    type: 'fatal',
    message: `${error instanceof Error ? error.name : typeof error}${code ? ` ${code}` : ''}`,
  }).then(() => process.exit(1));
});
