/**
 * A real Prometheus server for end-to-end tests: started on 127.0.0.1 on a free port with its config and TSDB
 * in a temporary directory, scraping one target every second, and stopped (SIGTERM, then SIGKILL after a bound;
 * the directory removed). It never outlives the test process: `stop()` in the test's `afterAll`, an `exit`
 * handler for a test that forgets, and a detached watchdog for a worker that is killed outright.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_BINARY = process.env.KEYFLIP_PROMETHEUS ?? '/usr/bin/prometheus';

export interface StartPrometheusOptions {
  /** The one target to scrape, `host:port`. */
  target: string;
  /** @default '/metrics' */
  metricsPath?: string;
  /** @default 1_000 */
  scrapeIntervalMs?: number;
  /** How long to wait for `/-/ready`. @default 30_000 */
  readyTimeoutMs?: number;
  /** How long SIGTERM gets before SIGKILL. @default 5_000 */
  stopTimeoutMs?: number;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly pid: number;
  /** What Prometheus printed (stdout and stderr), for failure messages. */
  logs(): string;
  /** Instant query (`/api/v1/query`); returns `data.result`. */
  query(promql: string): Promise<unknown[]>;
  /** Resolves once the target was scraped successfully (its health is `up`). */
  waitForTargetUp(timeoutMs?: number): Promise<void>;
  /** SIGTERM, SIGKILL after the bound, temp dir removed. Idempotent. */
  stop(): Promise<void>;
}

/** Prometheus processes not stopped yet, with their temp directories. */
const running = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [child, dir] of running) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** A port that was free a moment ago on 127.0.0.1 (Prometheus cannot listen on port 0 and tell us). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusServer> {
  // A free port can be taken between the probe and Prometheus's bind: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options, await freePort());
    } catch (error) {
      lastError = error;
      if (!(error instanceof Error && /address already in use/i.test(error.message))) throw error;
    }
  }
  throw lastError;
}

async function startOnce(options: StartPrometheusOptions, port: number): Promise<PrometheusServer> {
  const interval = `${options.scrapeIntervalMs ?? 1_000}ms`;
  const dir = mkdtempSync(join(tmpdir(), 'keyflip-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      `  evaluation_interval: ${interval}`,
      'scrape_configs:',
      '  - job_name: keyflip',
      `    metrics_path: ${JSON.stringify(options.metricsPath ?? '/metrics')}`,
      '    static_configs:',
      `      - targets: [${JSON.stringify(options.target)}]`,
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS_BINARY,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=info',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-64 * 1024);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  running.set(child, dir);
  installExitHook();
  void exited.then(() => running.delete(child));
  if (child.pid !== undefined) watchdog(child.pid, dir);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null && !spawnError) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), options.stopTimeoutMs ?? 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const server: PrometheusServer = {
    url,
    pid: child.pid ?? 0,
    logs: () => output,
    async query(promql) {
      const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`);
      const body = (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
      if (body.status !== 'success')
        throw new Error(`Prometheus query ${promql} failed: ${body.error ?? response.status}`);
      return body.data?.result ?? [];
    },
    async waitForTargetUp(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        const response = await fetch(`${url}/api/v1/targets?state=active`);
        const body = (await response.json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
        const target = body.data.activeTargets[0];
        if (target?.health === 'up') return;
        last = target ? `${target.health} ${target.lastError}` : 'no target';
        await sleep(200);
      }
      throw new Error(`Prometheus never scraped ${options.target} successfully within ${timeoutMs} ms (${last})`);
    },
    stop,
  };

  // Ready when /-/ready answers 200; fail fast (and clean up) if the process dies or never gets there.
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  try {
    for (;;) {
      if (spawnError)
        throw new Error(`could not start ${PROMETHEUS_BINARY}: ${spawnError.message} (run scripts/e2e-deps.sh)`);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`Prometheus exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`);
      }
      if (Date.now() > deadline)
        throw new Error(`Prometheus was not ready within ${options.readyTimeoutMs ?? 30_000} ms:\n${output}`);
      try {
        const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        if (response.ok) return server;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A detached shell that kills Prometheus (and removes its directory) once this process is gone, for a
 * worker killed with SIGKILL, where no exit handler runs. It ends by itself when Prometheus ends.
 */
function watchdog(pid: number, dir: string): void {
  const script = `
    while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done
    if kill -0 ${pid} 2>/dev/null; then
      kill -TERM ${pid} 2>/dev/null
      i=0; while kill -0 ${pid} 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
      kill -KILL ${pid} 2>/dev/null
      rm -rf '${dir.replace(/'/g, `'\\''`)}'
    fi`;
  const guard = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  guard.unref();
}
