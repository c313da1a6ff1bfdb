/**
 * `keyflip verify` and `keyflip collector` end to end: the CLI runs as a real child process
 * (`node --import tsx src/cli/index.ts …`) against a collector fed by real resolvers whose beacons post
 * through `httpSink`. The collector runs on a manual clock, so that its coverage (how long it has observed the
 * fleet) is what the test says. Exit codes: 0 clear, 1 in use, 4 cannot prove, 2 usage or backend. No output may
 * hold a value.
 */
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSink, usageBeacon } from '../../src/beacon/index.js';
import { createCollector, startCollectorServer, type CollectorServer } from '../../src/collector/index.js';
import { createResolver, fingerprint, memorySource } from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { SAMPLES } from '../clients/samples.js';
import { report } from '../collector/reports.js';
import { leaks } from '../helpers.js';
import { runCli, runInProcess, startCli } from '../support/cli.js';

const TOKEN = 'cli-verify-token-9f8e7d';
const VALUES = {
  old: 'sk-cli-verify-OLD-key-aaaaaaaaaaaaaaaaaaaaaaaa',
  new: 'sk-cli-verify-NEW-key-bbbbbbbbbbbbbbbbbbbbbbbb',
  never: 'sk-cli-verify-NEVER-used-cccccccccccccccccccc',
};
const FP = { old: fingerprint(VALUES.old), new: fingerprint(VALUES.new), never: fingerprint(VALUES.never) };
/** What no output may hold. */
const SECRETS = [...Object.values(VALUES), TOKEN];
const MINUTE = 60_000;
const HOUR = 3_600_000;

/** The CLI as a child process; the collector lives in this process, so the wait must not block. */
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env });

/**
 * A process with a beacon: resolves `value` from versions of OPENAI_API_KEY, reads it `reads` times, then closes
 * (the final report).
 */
async function instance(url: string, id: string, service: string, versions: string[], reads: number): Promise<void> {
  const memory = memorySource();
  for (const value of versions) memory.set('OPENAI_API_KEY', value);
  const resolver = createResolver({
    sources: [memory],
    beacon: usageBeacon({ service, environment: 'prod', instanceId: id, sink: httpSink({ url, token: TOKEN }) }),
  });
  const key = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY');
  await resolver.ready();
  let sink = 0;
  for (let i = 0; i < reads; i++) sink += key.value.length;
  expect(sink).toBe(reads * (versions.at(-1) as string).length);
  await resolver.close();
}

const inProcess = (args: string[]) => runInProcess(args);

/** The collector's clock: it has observed the fleet for two hours before the first report. */
const clock = manualClock(Date.UTC(2026, 2, 1, 9));
let server: CollectorServer;
beforeAll(async () => {
  server = await startCollectorServer({ token: TOKEN, collector: createCollector({ clock }) });
  await clock.advance(2 * HOUR);
  // Two processes still on the old key (version 1), one on the new key (version 2).
  await instance(server.url, 'checkout-7f9c', 'checkout-api', [VALUES.old], 3);
  await instance(server.url, 'worker-2b1d', 'billing-worker', [VALUES.old], 0);
  await instance(server.url, 'checkout-a001', 'checkout-api', [VALUES.old, VALUES.new], 5);
  expect(server.collector.stats).toMatchObject({ instances: 3, rejected: 0 });
  // GEMINI_API_KEY: one process held the old key, and rotated to the new one ten minutes later.
  const rotating = (fp: string, version: string) => ({
    ...report({ id: 'search-5c2e', service: 'search-api', environment: 'prod' }, [
      { name: 'GEMINI_API_KEY', fingerprint: fp, version, uses: 2 },
    ]),
    intervalMs: MINUTE,
  });
  server.collector.ingest(rotating(FP.old, '1'));
  await clock.advance(10 * MINUTE);
  server.collector.ingest(rotating(FP.new, '2'));
  // Every process has been seen for more than one of its intervals.
  await clock.advance(2 * MINUTE);
}, 30_000);
afterAll(() => server.close());

describe('keyflip verify (child process, against a collector fed by real beacons)', () => {
  const env = { KEYFLIP_COLLECTOR_TOKEN: TOKEN };

  it('exit 1 while instances hold the retired fingerprint: prints service, host, pid, last seen, uses', async () => {
    const run = await cli(
      ['verify', 'OPENAI_API_KEY', '--retired', FP.old, '--window', '60m', '--collector', server.url],
      env,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(`NOT OK: 2 instances reported OPENAI_API_KEY ${FP.old} in the last 1h`);
    expect(lines[2]).toBe('Still holding the retired key:');
    expect(lines[3]).toMatch(/^ {2}SERVICE\s+ENV\s+HOST\s+PID\s+LAST SEEN\s+USES\s+FINGERPRINT$/);
    const rows = lines.slice(4, 6).join('\n');
    expect(rows).toMatch(
      new RegExp(
        `checkout-api\\s+prod\\s+\\S+\\s+${process.pid}\\s+` +
          `\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z \\(\\d+m ago\\)\\s+3\\s+${FP.old} v1`,
      ),
    );
    expect(rows).toMatch(new RegExp(`billing-worker\\s+prod\\s+\\S+\\s+${process.pid}\\s+.*\\s+0\\s+${FP.old} v1`));
    expect(run.stdout).not.toContain('Held it earlier');
    expect(run.stdout).toContain('still holding it will use it on their next request');
    expect(run.stdout).not.toContain('cannot prove');
    expect(leaks(run.stdout + run.stderr, SECRETS)).toEqual([]);
  });

  it('exit 1 for a key held earlier in the window and rotated since: a table of its own, with when', async () => {
    const run = await cli(['verify', 'GEMINI_API_KEY', '--retired', FP.old, '--collector', server.url], env);
    expect(run.code).toBe(1);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(
      `NOT OK: 1 instance reported GEMINI_API_KEY ${FP.old} in the last 1h: 0 still hold it, 1 held it earlier ` +
        'and rotated since',
    );
    expect(run.stdout).not.toContain('Still holding');
    expect(lines[2]).toBe('Held it earlier in the window, rotated since:');
    expect(lines[3]).toMatch(/^ {2}SERVICE\s+ENV\s+HOST\s+PID\s+LAST HELD\s+USES\s+FINGERPRINT$/);
    expect(lines[4]).toMatch(/^ {2}search-api\s+prod\s+host-search-5c2e\s+4242\s+.* \(12m ago\)\s+2/);
    expect(run.stdout).toContain('Every one of them has rotated since');
    const json = await cli(['verify', 'GEMINI_API_KEY', '--retired', FP.old, '--collector', server.url, '--json'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      reason: 'in-use',
      holding: [],
      heldEarlier: [{ id: 'search-5c2e', current: false, fingerprint: FP.old, lastSeen: clock.now() - 12 * MINUTE }],
      missing: [],
      coverage: { observedSince: Date.UTC(2026, 2, 1, 9), dropped: [], gaps: [] },
    });
  });

  it('exit 0 for a fingerprint no instance reported, while the evidence covers the window', async () => {
    const run = await cli(['verify', 'OPENAI_API_KEY', '--retired', FP.never, '--collector', server.url], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `OK: no instance reported OPENAI_API_KEY ${FP.never} in the last 1h (3 instances reported the secret)`,
    );
    expect(run.stdout).toContain(`In use: ${FP.new} (version 2) by 1 instance, ${FP.old} (version 1) by 2 instances.`);
    expect(leaks(run.stdout + run.stderr, SECRETS)).toEqual([]);
  });

  it('exit 4 when no instance reported the secret at all: no beacons is not proof', async () => {
    const run = await cli(['verify', 'ANTHROPIC_API_KEY', '--retired', FP.old, '--collector', server.url], env);
    expect(run.code).toBe(4);
    expect(run.stdout).toContain(
      `CANNOT PROVE: no instance shows ANTHROPIC_API_KEY ${FP.old} in the last 1h, but that is not proof: ` +
        'no instance reported ANTHROPIC_API_KEY in the last 1h',
    );
    expect(run.stdout).toContain('\ncannot prove: no instance reported ANTHROPIC_API_KEY in the last 1h');
    expect(run.stdout).toMatch(/\n {2}→ check that the services run with a beacon \(usageBeacon\) whose sink reaches /);
  });

  it('exit 4 for a window shorter than two beacon intervals, saying which window would do', async () => {
    server.collector.ingest({
      ...report({ id: 'chat-77aa' }, [{ name: 'MISTRAL_API_KEY', fingerprint: FP.new, version: '2' }]),
      intervalMs: MINUTE,
    });
    const run = await cli(
      ['verify', 'MISTRAL_API_KEY', '--retired', FP.old, '--window', '90s', '--collector', server.url],
      env,
    );
    expect(run.code).toBe(4);
    expect(run.stdout).toContain(
      '\ncannot prove: the window (90s) is shorter than twice the longest beacon interval of the instances that ' +
        'reported MISTRAL_API_KEY (2 × 1m): a process that holds the key may not have reported in it\n' +
        '  → use a window of at least 2m (--window 2m)\n',
    );
    // No report in the window at all is not proof either.
    const quiet = await cli(
      ['verify', 'OPENAI_API_KEY', '--retired', FP.never, '--window', '90s', '--collector', server.url],
      env,
    );
    expect(quiet.code).toBe(4);
    expect(quiet.stdout).toContain('cannot prove: no instance reported OPENAI_API_KEY in the last 90s');
  });

  it('--retired NAME@VERSION (qualified by its secret) and --json', async () => {
    const run = await cli(
      [
        'verify',
        'OPENAI_API_KEY',
        '--retired',
        'OPENAI_API_KEY@1',
        '--window',
        '30m',
        '--collector',
        server.url,
        '--json',
      ],
      env,
    );
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout) as {
      ok: boolean;
      reason: string;
      matchedBy: string;
      windowMs: number;
      instancesSeen: number;
      offenders: {
        id: string;
        service: string;
        host: string;
        pid: number;
        uses: number;
        fingerprint: string;
        version: string;
      }[];
    };
    expect(result).toMatchObject({
      ok: false,
      reason: 'in-use',
      matchedBy: 'version',
      windowMs: 1_800_000,
      instancesSeen: 3,
      missing: [],
    });
    expect(result.offenders.map((o) => [o.id, o.service, o.pid, o.uses, o.fingerprint, o.version]).sort()).toEqual([
      ['checkout-7f9c', 'checkout-api', process.pid, 3, FP.old, '1'],
      ['worker-2b1d', 'billing-worker', process.pid, 0, FP.old, '1'],
    ]);
    const three = await cli(
      ['verify', 'OPENAI_API_KEY', '--retired', 'OPENAI_API_KEY@3', '--collector', server.url, '--json'],
      env,
    );
    expect(three.code).toBe(0);
    expect(JSON.parse(three.stdout)).toMatchObject({ ok: true, reason: 'clear' });
    // The suffix form names a secret these instances do not load (they read OPENAI_API_KEY): cannot prove.
    const suffix = await cli(
      ['verify', 'OPENAI_API_KEY', '--retired', 'OPENAI_API_KEY_v1@1', '--collector', server.url],
      env,
    );
    expect(suffix.code).toBe(4);
    expect(suffix.stdout).toContain('the version is written for the other layout');
    expect(leaks(run.stdout + run.stderr + three.stdout + suffix.stdout, SECRETS)).toEqual([]);
  });

  it('exit 4 on a collector that has just started: it cannot have heard from every process yet', async () => {
    const fresh = await startCollectorServer({ token: TOKEN });
    try {
      await instance(fresh.url, 'checkout-9e1f', 'checkout-api', [VALUES.new], 1);
      const run = await cli(['verify', 'OPENAI_API_KEY', '--retired', FP.old, '--collector', fresh.url], env);
      expect(run.code).toBe(4);
      expect(run.stdout).toMatch(
        new RegExp(
          `\ncannot prove: the collector at ${fresh.url} has observed OPENAI_API_KEY for \\d+s; the window needs ` +
            '61m \\(1h \\+ one 1m interval\\)\n {2}→ wait until \\S+Z, then verify again\n',
        ),
      );
      const json = await cli(
        ['verify', 'OPENAI_API_KEY', '--retired', FP.old, '--collector', fresh.url, '--json'],
        env,
      );
      expect(json.code).toBe(4);
      expect(JSON.parse(json.stdout)).toMatchObject({
        ok: false,
        reason: 'cannot-prove',
        offenders: [],
        missing: expect.arrayContaining([expect.objectContaining({ code: 'coverage' })]),
      });
    } finally {
      await fresh.close();
    }
  });

  it('exit 2 when the backend cannot answer: no token (401), a window over the retention, no listener', async () => {
    const noToken = await cli(['verify', 'OPENAI_API_KEY', '--retired', FP.old, '--collector', server.url]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toBe(
      `keyflip verify: the collector at ${server.url} refused the request (401): ` +
        'set KEYFLIP_COLLECTOR_TOKEN to its token\n',
    );
    const tooLong = await cli(
      ['verify', 'OPENAI_API_KEY', '--retired', FP.old, '--window', '30d', '--collector', server.url],
      env,
    );
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/answered 400: window: longer than the collector's retention/);
    const port = await freePort();
    const down = await cli(
      ['verify', 'OPENAI_API_KEY', '--retired', FP.old, '--collector', `http://127.0.0.1:${port}`],
      env,
    );
    expect(down.code).toBe(2);
    expect(down.stderr).toBe(
      `keyflip verify: the collector at http://127.0.0.1:${port} is unreachable (ECONNREFUSED)\n`,
    );
    expect(leaks(noToken.stderr + tooLong.stderr + down.stderr, SECRETS)).toEqual([]);
  });
});

describe('keyflip verify: usage (exit 2, nothing echoed)', () => {
  it('refuses missing or conflicting arguments', async () => {
    const cases: [string[], RegExp][] = [
      [['verify'], /SECRET is required/],
      [['verify', 'K'], /--retired is required/],
      [['verify', 'K', '--retired', FP.old], /give one backend/],
      [['verify', 'K', '--retired', FP.old, '--collector', 'http://a', '--prometheus', 'http://b'], /give one backend/],
      [
        ['verify', 'K', 'L', '--retired', FP.old, '--collector', 'http://a'],
        /unexpected argument #2 \(not shown\): one SECRET only/,
      ],
      [
        ['verify', 'K', '--retired', FP.old, '--collector', 'http://a', '--window', '60'],
        /--window: invalid duration "60"/,
      ],
      [
        ['verify', 'K', '--retired', FP.old, '--collector', 'http://a', '--window', '0s'],
        /--window: the window must be longer than 0/,
      ],
      [['verify', 'K', '--retired', 'kf_XYZ', '--collector', 'http://a'], /--retired starts with kf_ but is not a/],
      [
        ['verify', 'K', '--retired', '1', '--collector', 'http://a'],
        /--retired is a bare version number, .*: give the fingerprint .* K_v1@1 \(suffix layout\) or K@1 \(alias/,
      ],
      [['verify', 'K', '--retired', 'K@current', '--collector', 'http://a'], /--retired names an alias \(not shown\)/],
      [
        ['verify', 'K', '--retired', 'L_v1@1', '--collector', 'http://a'],
        /--retired names a version of another secret \(not shown\): qualify the version by K itself, K_v1@1/,
      ],
      [['verify', 'K', '--retired', 'K_vx@1', '--collector', 'http://a'], /--retired names a version of another/],
      [
        ['verify', 'K', '--retired', FP.old, '--collector', 'not a url'],
        /--collector needs an http\(s\) URL \(not shown\)/,
      ],
      [['verify', 'K', '--retired', FP.old, '--bogus'], /unknown option #4 \(not shown\)/],
      [['verify', 'K', '--retired'], /--retired needs a value/],
    ];
    for (const [args, message] of cases) {
      const run = await inProcess(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
  });

  it('accepts a fingerprint and a version qualified by SECRET or its suffix form (then asks the backend)', async () => {
    for (const retired of [FP.old, 'K@1', 'K_v1@1', 'K_v12@3']) {
      const run = await inProcess(['verify', 'K', '--retired', retired, '--collector', 'http://127.0.0.1:9']);
      expect(run.stderr, retired).toMatch(/^keyflip verify: the collector at http:\/\/127\.0\.0\.1:9 is unreachable/);
    }
  });

  it('a key passed as --retired by mistake is refused and not printed', async () => {
    for (const key of [
      SAMPLES.openai,
      SAMPLES.anthropic,
      VALUES.old,
      '0123456789abcdef0123456789abcdef',
      'AIzaSyD-not-really-a-key-123456',
      'x'.repeat(40),
    ]) {
      const run = await inProcess(['verify', 'K', '--retired', key, '--collector', 'http://a']);
      expect(run.code).toBe(2);
      expect(run.stderr).not.toContain(key);
      expect(run.stderr).toMatch(/--retired (looks like a key|must be a fingerprint)/);
    }
  });

  it('--help, and the top-level help lists collector and verify', async () => {
    const help = await inProcess(['verify', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('keyflip verify SECRET --retired FP|NAME@VERSION');
    expect(help.stdout).toContain('Exit codes: 0 clear, 1 in use, 4 cannot prove');
    expect(help.stdout).toContain('docs/evidence.md');
    const top = await inProcess(['--help']);
    expect(top.stdout).toMatch(/keyflip collector \[--port N\]/);
    expect(top.stdout).toMatch(/keyflip verify SECRET --retired FP\|NAME@VERSION/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('keyflip collector (child process)', () => {
  it('prints its URL once, serves beacons and verify, and stops on SIGTERM (exit 0, port freed)', async () => {
    const collector = startCli(['collector', '--port', '0', '--retention', '2h', '--json'], {
      env: { KEYFLIP_COLLECTOR_TOKEN: TOKEN },
    });
    const first = await collector.firstLine();
    const started = JSON.parse(first) as { url: string; token: boolean; retentionMs: number };
    expect(started).toMatchObject({ token: true, retentionMs: 7_200_000 });
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    await instance(started.url, 'cli-collector-1', 'search-api', [VALUES.old, VALUES.new], 2);
    expect((await fetch(`${started.url}/healthz`)).status).toBe(200);
    // Just started: it has heard from this process, and cannot have heard from every one yet.
    const ok = await cli(
      ['verify', 'OPENAI_API_KEY', '--retired', FP.old, '--window', '2h', '--collector', started.url],
      { KEYFLIP_COLLECTOR_TOKEN: TOKEN },
    );
    expect(ok.code).toBe(4);
    expect(ok.stdout).toContain(`cannot prove: the collector at ${started.url} has observed OPENAI_API_KEY for`);

    collector.child.kill('SIGTERM');
    const { code, stdout, stderr } = await collector.exited;
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1); // the URL, once; nothing else
    expect(stderr).toBe('');
    expect(leaks(stdout + stderr + ok.stdout + ok.stderr, SECRETS)).toEqual([]);
    await expect(fetch(`${started.url}/healthz`)).rejects.toThrow();
  });

  const REFUSES =
    'refuses a non-loopback host without a token, bad options (exit 2); the sentence form says where the page is';
  it(REFUSES, async () => {
    const open = await inProcess(['collector', '--host', '0.0.0.0', '--port', '0']);
    expect(open.code).toBe(2);
    expect(open.stderr).toBe(
      'keyflip collector: listening on 0.0.0.0 (not loopback) needs a token: set KEYFLIP_COLLECTOR_TOKEN\n',
    );
    for (const args of [
      ['--port', 'x'],
      ['--port', '70000'],
      ['--retention', '5'],
      ['--retention', '10ms'],
      ['--max-instances', '0'],
      ['--what'],
    ]) {
      const run = await inProcess(['collector', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
    }
    const help = await inProcess(['collector', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('KEYFLIP_COLLECTOR_TOKEN');

    const { collectorCommand } = await import('../../src/cli/collector.js');
    let stdout = '';
    const code = await collectorCommand(
      ['--port', '0'],
      {
        stdin: Readable.from([]),
        stdout: { write: (t: string) => (stdout += t) },
        stderr: { write: () => true },
        env: { KEYFLIP_COLLECTOR_TOKEN: TOKEN },
      },
      async () => {
        const url = /listening on (\S+)/.exec(stdout)?.[1];
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
      },
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(
      new RegExp(
        String.raw`^keyflip collector listening on http://127\.0\.0\.1:\d+ \(retention 1d; token required; ` +
          String.raw`the page: http://127\.0\.0\.1:\d+/#token=<KEYFLIP_COLLECTOR_TOKEN>\)\n$`,
      ),
    );
    expect(stdout).not.toContain(TOKEN);
  });
});
