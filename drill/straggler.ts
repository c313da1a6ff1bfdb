/**
 * The straggler of the rotation drill: a process that keyflip does not run and no beacon reports — a cron job, a
 * script on a laptop, a copy of the key somebody kept. It reads `OPENAI_API_KEY` from its environment once, at
 * start-up, and calls the API (the mock provider) through the real `openai` SDK every few seconds, without keyflip:
 * no resolver, no refresh, no beacon. The only trace it leaves is at the provider, which counts every request per key
 * in its usage data: the drill shows that `verify` and `revoke` refuse on that evidence alone, and that the key
 * answers 401 once `revoke` deleted it at the provider.
 *
 * The drill steers it over IPC (protocol.ts): `start` (a request every `everyMs`), `pause` (no more requests; it
 * answers `idle` once the last one ended and was reported), `ping` (one request, then `idle`), `stop` (it reports,
 * then exits). It reports every request as the workers do, with fingerprints only; it prints nothing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import OpenAI from 'openai';
import { fingerprint } from '../src/index.js';
import type { Attempt, DrillMessage, RequestRecord, WorkerConfig, WorkerMessage } from './protocol.js';

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** The drill went away: nobody to report to, so it leaves at once. */
process.on('disconnect', () => process.exit(0));

async function main(): Promise<void> {
  const config = JSON.parse(process.env.DRILL_WORKER_CONFIG ?? '') as WorkerConfig;
  const everyMs = config.everyMs ?? 2_000;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const instanceId = `drill-${config.mode}-${config.index}`;
  // The key as code that reads the environment has it: once, at start-up; nothing reads it again.
  const apiKey = process.env.OPENAI_API_KEY;
  if (!apiKey) throw new Error('no OPENAI_API_KEY in the environment');

  let current: Attempt[] | undefined;
  const observe: typeof fetch = async (input, init) => {
    const auth = new Headers(init?.headers).get('authorization') ?? '';
    const attempt: Attempt = [fingerprint(auth.replace(/^Bearer /, '')), 0, Date.now(), 0];
    current?.push(attempt);
    try {
      const response = await fetch(input, init);
      attempt[1] = response.status;
      return response;
    } finally {
      attempt[3] = Date.now();
    }
  };
  const client = new OpenAI({ apiKey, baseURL: config.baseUrl, maxRetries: 0, timeout: 60_000, fetch: observe });

  let records: RequestRecord[] = [];
  const failures: Record<string, number> = {};
  let nextId = 1;
  let inFlight: Promise<void> | undefined;

  /** One request, at most one at a time (a slot that finds one in flight is skipped). */
  const request = (): Promise<void> => {
    if (inFlight) return inFlight;
    const id = nextId++;
    const mine: Attempt[] = [];
    current = mine;
    const t0 = Date.now();
    inFlight = (async () => {
      let outcome = 200;
      try {
        await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'ping' }],
          max_tokens: 1,
        });
      } catch (error) {
        outcome = error instanceof OpenAI.APIError && typeof error.status === 'number' ? error.status : 0;
        const kind = `${outcome} ${error instanceof Error ? error.constructor.name : typeof error}`;
        failures[kind] = (failures[kind] ?? 0) + 1;
      }
      records.push([id, t0, Date.now(), outcome, mine, 0]);
      inFlight = undefined;
    })();
    return inFlight;
  };

  const flush = async (): Promise<void> => {
    if (records.length === 0) return;
    const batch: WorkerMessage = {
      type: 'batch',
      requests: records,
      walks: [],
      skipped: 0,
      errors: {},
      failures: { ...failures },
    };
    records = [];
    for (const kind of Object.keys(failures)) delete failures[kind];
    await send(batch);
  };
  const flusher = setInterval(() => void flush(), config.flushMs);

  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    void request();
    timer = setTimeout(tick, everyMs);
  };
  /** No more requests; once the one in flight (if any) ended and was reported, says so. */
  const idle = async (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    await inFlight;
    await flush();
    await send({ type: 'idle', at: Date.now(), requests: nextId - 1 });
  };

  loopDelay.enable();
  const cpuAtReady = process.cpuUsage();
  void send({
    type: 'ready',
    pid: process.pid,
    instanceId,
    fingerprint: fingerprint(apiKey),
    at: Date.now(),
    startupMs: Math.round(process.uptime() * 1000),
  });

  let stopping = false;
  process.on('message', (message: DrillMessage) => {
    if (stopping) return;
    if (message?.type === 'start') {
      if (timer === undefined) tick();
    } else if (message?.type === 'pause') {
      void idle();
    } else if (message?.type === 'ping') {
      void request().then(idle);
    } else if (message?.type === 'stop') {
      stopping = true;
      void (async () => {
        await idle();
        clearInterval(flusher);
        const cpu = process.cpuUsage(cpuAtReady);
        await send({
          type: 'done',
          at: Date.now(),
          beacon: undefined,
          loopDelayMs: { p99: Math.round(loopDelay.percentile(99) / 1e6), max: Math.round(loopDelay.max / 1e6) },
          cpuMs: Math.round((cpu.user + cpu.system) / 1000),
          requests: nextId - 1,
        });
        process.exit(0);
      })();
    }
  });
}

main().catch((error: unknown) => {
  // The name only: an error's message is not printed (it could quote something it should not).
  void send({ type: 'fatal', message: error instanceof Error ? error.name : typeof error }).then(() => process.exit(1));
});
