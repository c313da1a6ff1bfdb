/**
 * `keyflip collector`: the state file (`--state`, `--save-every`), the memory budget options (`--max-instances`,
 * `--max-bytes`) and the Host names it answers (`--allow-host`), in process and as a child process stopped by
 * SIGTERM. A refused argument is never printed back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { collectorCommand } from '../../src/cli/collector.js';
import { FP, report } from '../collector/reports.js';
import { runInProcess, startCli } from '../support/cli.js';

const TOKEN = 'cli-collector-token-7a6b5c';
const auth = { authorization: `Bearer ${TOKEN}` };

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyflip-cli-collector-'));
  dirs.push(dir);
  return dir;
}

/**
 * Runs `keyflip collector ARGS` in this process; `whileRunning` gets the URL it printed and runs before it is
 * stopped (as a signal would).
 */
async function runCollector(
  args: string[],
  whileRunning: (url: string, stdout: string) => Promise<void> = async () => undefined,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await collectorCommand(
    ['--port', '0', ...args],
    {
      stdin: Readable.from([]),
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      env: { KEYFLIP_COLLECTOR_TOKEN: TOKEN },
    },
    async () => {
      const url = /listening on (\S+)/.exec(stdout)?.[1] ?? JSON.parse(stdout).url;
      await whileRunning(url, stdout);
    },
  );
  return { code, stdout, stderr };
}

const post = (url: string, id: string, fingerprint: string = FP.old): Promise<Response> =>
  fetch(`${url}/v1/beacons`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify(report({ id }, [{ fingerprint }])),
  });

interface UsageAnswer {
  instancesSeen: number;
  fingerprints: { fingerprint: string; instances: { id: string }[] }[];
  coverage: { observedSince: number; dropped: { reason: string }[] };
}

const usage = async (url: string): Promise<UsageAnswer> =>
  (await (await fetch(`${url}/v1/usage?secret=OPENAI_API_KEY&window=1h`, { headers: auth })).json()) as UsageAnswer;

describe('keyflip collector --state', () => {
  it('says where the state is kept; a restart keeps who held which key, and records the time it was down', async () => {
    const statePath = join(tempDir(), 'collector.state');
    const first = await runCollector(['--state', statePath, '--save-every', '2s'], async (url) => {
      expect((await post(url, 'legacy-worker')).status).toBe(204);
    });
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(
      new RegExp(
        String.raw`^keyflip collector listening on http://127\.0\.0\.1:\d+ \(retention 1d; ` +
          `state in ${statePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, saved every 2s; token required; `,
      ),
    );

    // Started again on the same file: the legacy worker is still known; the downtime is missing evidence.
    const second = await runCollector(['--state', statePath, '--json'], async (url, stdout) => {
      expect(JSON.parse(stdout)).toMatchObject({ token: true, statePath, saveEveryMs: 10_000 });
      const answer = await usage(url);
      expect(answer.fingerprints).toMatchObject([{ fingerprint: FP.old, instances: [{ id: 'legacy-worker' }] }]);
      expect(answer.coverage.dropped).toEqual([expect.objectContaining({ reason: 'collector-down' })]);
    });
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(second.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('a state file it cannot read is a clear error naming the path (exit 2), never an empty start', async () => {
    const statePath = join(tempDir(), 'not-a-state-file.json');
    writeFileSync(statePath, '{"something": "else"}');
    let started = false;
    const run = await runCollector(['--state', statePath], async () => {
      started = true;
    });
    expect(run.code).toBe(2);
    expect(started).toBe(false);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(statePath);
    expect(run.stderr).toMatch(/^keyflip collector: /);
  });

  it('stops on SIGTERM with a last save (child process): the state holds what came after the timed save', async () => {
    const statePath = join(tempDir(), 'collector.state');
    const child = startCli(['collector', '--port', '0', '--state', statePath, '--save-every', '1h', '--json'], {
      env: { KEYFLIP_COLLECTOR_TOKEN: TOKEN },
      timeoutMs: 30_000,
    });
    const { url } = JSON.parse(await child.firstLine()) as { url: string };
    expect((await post(url, 'reported-before-sigterm')).status).toBe(204);
    child.child.kill('SIGTERM');
    const exited = await child.exited;
    expect(exited).toMatchObject({ code: 0, stderr: '' });
    // Saved every hour, so only the save on SIGTERM holds that report.
    const again = await runCollector(['--state', statePath], async (restarted) => {
      const answer = await usage(restarted);
      expect(answer.fingerprints[0]?.instances.map((i) => i.id)).toEqual(['reported-before-sigterm']);
    });
    expect(again.code).toBe(0);
  }, 60_000);
});

describe('keyflip collector: budget and Host options', () => {
  it('--max-instances: a new instance beyond it is refused with 429', async () => {
    const run = await runCollector(['--max-instances', '1', '--max-bytes', '64MiB'], async (url) => {
      expect((await post(url, 'one')).status).toBe(204);
      const refused = await post(url, 'two');
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await refused.json()).toMatchObject({ reason: 'instance-cap' });
    });
    expect(run.code).toBe(0);
  });

  it('--allow-host NAME (repeatable): those Host names are answered, others still refused', async () => {
    const run = await runCollector(
      ['--allow-host', 'collector.internal', '--allow-host', 'Proxy.Example'],
      async (url) => {
        const status = (host: string): Promise<number> =>
          new Promise((resolve, reject) => {
            const target = new URL(url);
            const req = httpRequest(
              { host: target.hostname, port: target.port, path: '/healthz', headers: { host }, agent: false },
              (res) => {
                res.resume();
                resolve(res.statusCode ?? 0);
              },
            );
            req.on('error', reject);
            req.end();
          });
        expect(await status('collector.internal:7391')).toBe(200);
        expect(await status('proxy.example')).toBe(200);
        expect(await status('localhost')).toBe(200);
        expect(await status('127.attacker.example')).toBe(403);
      },
    );
    expect(run.code).toBe(0);
  });

  it('refuses bad values (exit 2) without printing them', async () => {
    const secretish = 'sk-proj-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    for (const args of [
      ['--save-every', '10s'],
      ['--state', '/tmp/x.state', '--save-every', '500ms'],
      ['--state', '/tmp/x.state', '--save-every', secretish],
      ['--max-bytes', '1000'],
      ['--max-bytes', '2TiB'],
      ['--max-bytes', secretish],
      ['--allow-host', `${secretish}:80`],
      ['--allow-host', 'a b'],
      ['--state'],
    ]) {
      const run = await runInProcess(['collector', '--port', '0', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^keyflip collector: .*; see keyflip collector --help\n$/);
      expect(run.stderr).not.toContain(secretish);
    }
    const help = await runInProcess(['collector', '--help']);
    expect(help.code).toBe(0);
    for (const option of ['--state FILE', '--save-every', '--max-bytes', '--max-instances', '--allow-host'])
      expect(help.stdout).toContain(option);
  });
});
