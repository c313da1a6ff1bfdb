/**
 * `keyflip emulator`: the real CLI as a child process, seeded from a file, read through the real
 * `@google-cloud/secret-manager` client (gRPC), a resolver's gcp source and `keyflip rotate status`, stopped by
 * SIGTERM and SIGINT (exit 0, ports closed). Bad seed files and bad arguments exit 2, naming what is wrong and never
 * showing a value; a missing SDK and a busy port exit 2 with what to do. No output holds a seeded value.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_EMULATOR_PORT, emulatorCommand } from '../../src/cli/emulator.js';
import type { CliIo } from '../../src/cli/io.js';
import { createResolver, fingerprint } from '../../src/index.js';
import { emulatorClientOptions, gcpSecretManager } from '../../src/sources/gcp.js';
import type { SecretManagerEmulator, SecretManagerEmulatorOptions } from '../../src/testing/index.js';
import { loadEmulatorDeps } from '../../src/testing/emulator/load.js';
import { leaks } from '../helpers.js';
import { type CliProcess, runCli, runInProcess, startCli } from '../support/cli.js';

const KEYS = {
  openai1: 'sk-emucli-ONE-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  db1: 'emucli-db-password-version-one',
  db2: 'emucli-db-password-version-two',
  unicode: 'emucli-unicode-välue-ünïcode-✓',
};
const VALUES = Object.values(KEYS);
/** Every output of every run, checked for values at the end. */
const outputs: string[] = [];

const dir = mkdtempSync(join(tmpdir(), 'keyflip-emulator-cli-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  expect(leaks(outputs.join('\n'), VALUES)).toEqual([]);
});

let files = 0;
/** Writes `text` to a new file of the temporary directory and returns its path. */
function seedFile(text: string): string {
  const path = join(dir, `seed-${++files}.json`);
  writeFileSync(path, text);
  return path;
}

const GOOD_SEED = JSON.stringify(
  { OPENAI_API_KEY_v1: KEYS.openai1, DB_PASSWORD: [KEYS.db1, KEYS.db2], UNICODE: [KEYS.unicode] },
  null,
  2,
);

/** Stdout until it holds `lines` complete lines (or the process exits). */
async function linesOf(cli: CliProcess, lines: number): Promise<string[]> {
  await cli.firstLine();
  for (let i = 0; i < 200 && cli.stdout().split('\n').length <= lines; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return cli.stdout().split('\n').slice(0, lines);
}

/** True when a TCP connection to 127.0.0.1:`port` is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('keyflip emulator (child process)', () => {
  it('prints the lines to export; the client, a resolver and rotate status read the seed; SIGTERM', async () => {
    const cli = startCli(['emulator', '--port', '0', '--seed', seedFile(GOOD_SEED)], { timeoutMs: 60_000 });
    const [hostLine, projectLine] = await linesOf(cli, 2);
    expect(hostLine).toMatch(/^export SECRET_MANAGER_EMULATOR_HOST=127\.0\.0\.1:\d+$/);
    expect(projectLine).toBe('export KEYFLIP_PROJECT=keyflip-test');
    const host = (hostLine as string).split('=')[1] as string;
    const port = Number(host.split(':')[1]);

    // The Google client over gRPC, as keyflip builds it for SECRET_MANAGER_EMULATOR_HOST.
    const options = emulatorClientOptions(host) as ConstructorParameters<typeof SecretManagerServiceClient>[0];
    const client = new SecretManagerServiceClient(options);
    try {
      const read = async (name: string): Promise<string> => {
        const [response] = await client.accessSecretVersion({ name: `projects/keyflip-test/secrets/${name}` });
        return Buffer.from(response.payload?.data as Uint8Array).toString('utf8');
      };
      expect(await read('DB_PASSWORD/versions/1')).toBe(KEYS.db1);
      expect(await read('DB_PASSWORD/versions/latest')).toBe(KEYS.db2);
      expect(await read('OPENAI_API_KEY_v1/versions/latest')).toBe(KEYS.openai1);
      expect(await read('UNICODE/versions/1')).toBe(KEYS.unicode);
    } finally {
      await client.close();
    }

    // An app: gcpSecretManager with the exported variables.
    const env = { SECRET_MANAGER_EMULATOR_HOST: host, KEYFLIP_PROJECT: 'keyflip-test' };
    const resolver = createResolver({ sources: [gcpSecretManager({ projectId: env.KEYFLIP_PROJECT, env })] });
    try {
      const openai = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');
      await resolver.ready();
      expect(openai.value).toBe(KEYS.openai1);
      expect(openai.info).toMatchObject({ candidate: 'OPENAI_API_KEY_v1', version: '1' });
    } finally {
      await resolver.close();
    }

    // keyflip rotate status with the same two variables.
    const status = await runInProcess(['rotate', 'status', 'OPENAI_API_KEY'], { env });
    outputs.push(status.stdout, status.stderr);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('OPENAI_API_KEY_v1@1 is live');
    expect(status.stdout).toContain(fingerprint(KEYS.openai1));

    const restPort = Number(/REST on http:\/\/127\.0\.0\.1:(\d+)/.exec(cli.stderr())?.[1]);
    expect(restPort).toBeGreaterThan(0);
    cli.child.kill('SIGTERM');
    const run = await cli.exited;
    outputs.push(run.stdout, run.stderr);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${hostLine}\n${projectLine}\n`); // stdout: the lines to export, nothing else
    expect(run.stderr).toContain(`gRPC on ${host}, REST on http://127.0.0.1:${restPort}`);
    expect(run.stderr).toContain('seeded 3 secrets, 4 versions (values not shown):');
    expect(run.stderr).toMatch(/^ {2}OPENAI_API_KEY_v1 {2}1 version$/m);
    expect(run.stderr).toMatch(/^ {2}DB_PASSWORD {8}2 versions$/m);
    expect(run.stderr).toMatch(/^ {2}UNICODE {12}1 version$/m);
    expect(run.stderr).toContain('keyflip emulator: stopped (SIGTERM)');
    expect(await refused(port)).toBe(true);
    expect(await refused(restPort)).toBe(true);
  });

  it('SIGINT (Ctrl-C) stops it too, exit 0; without --seed nothing is seeded', async () => {
    const cli = startCli(['emulator', '--port', '0', '--project', 'my-app-123'], { timeoutMs: 60_000 });
    const [hostLine, projectLine] = await linesOf(cli, 2);
    expect(projectLine).toBe('export KEYFLIP_PROJECT=my-app-123');
    const port = Number(hostLine?.split(':')[1]);
    expect(await refused(port)).toBe(false);
    cli.child.kill('SIGINT');
    const run = await cli.exited;
    outputs.push(run.stdout, run.stderr);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('seeded');
    expect(run.stderr).toContain('stopped (SIGINT)');
    expect(await refused(port)).toBe(true);
  });

  it('a bad seed file exits 2 before listening, names what is wrong, and shows no value', async () => {
    const unquoted = seedFile(`{\n  "OPENAI_API_KEY_v1": ${KEYS.openai1}\n}\n`);
    const wrongType = seedFile(JSON.stringify({ DB_PASSWORD: [KEYS.db1, 42] }));
    for (const [file, message] of [
      [unquoted, /--seed: the file is not valid JSON.* \(its text is not shown\); see keyflip emulator --help\n$/],
      [wrongType, /--seed: secret DB_PASSWORD: version 2 is a number, not a string/],
    ] as const) {
      const run = await runCli(['emulator', '--port', '0', '--seed', file]);
      outputs.push(run.stdout, run.stderr);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
      expect(leaks(run.stderr, VALUES)).toEqual([]);
    }
  });
});

/** `keyflip ARGS…` in process; only for runs that end by themselves (an error, or --help). */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = await runInProcess(args);
  outputs.push(run.stdout, run.stderr);
  return run;
}

describe('keyflip emulator: the seed file, checked strictly (in process)', () => {
  it.each([
    ['an array', '["x"]', /the file must hold a JSON object \{ "SECRET_ID": "value" \| \[.*\] \}, not an array/],
    ['a string', JSON.stringify(KEYS.db1), /must hold a JSON object .*, not a string/],
    ['null', 'null', /must hold a JSON object .*, not null/],
    [
      'truncated JSON',
      `{"DB_PASSWORD": "${KEYS.db1}"`,
      /not valid JSON at line 1, column \d+ \(its text is not shown\)/,
    ],
    [
      'a name that is not a secret id',
      JSON.stringify({ 'db/password': KEYS.db1 }),
      /entry #1: its name is not a secret id/,
    ],
    ['a key as a name', JSON.stringify({ DB: KEYS.db1, [KEYS.openai1]: 'x' }), /entry #2: its name looks like a key/],
    ['a name given twice', `{"DB": "${KEYS.db1}", "DB": ["${KEYS.db2}"]}`, /secret DB is given twice/],
    [
      'a number',
      JSON.stringify({ PIN: 1234 }),
      /secret PIN: needs a string .* or an array of strings .*, not a number/,
    ],
    ['an object', JSON.stringify({ DB: { value: KEYS.db1 } }), /secret DB: needs a string .*, not an object/],
    ['an empty array', JSON.stringify({ DB: [] }), /secret DB: the array is empty/],
    ['a version not a string', JSON.stringify({ DB: [KEYS.db1, null] }), /secret DB: version 2 is null, not a string/],
    ['an empty version', JSON.stringify({ DB: [KEYS.db1, ''] }), /secret DB: version 2 is empty/],
    [
      'a version over 64 KiB',
      JSON.stringify({ DB: 'x'.repeat(65_537) }),
      /secret DB: version 1 is larger than .* 64 KiB/,
    ],
  ])('%s: exit 2, no value shown', async (_what, text, message) => {
    const run = await inProcess(['emulator', '--seed', seedFile(text)]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/^keyflip emulator: --seed: .*; see keyflip emulator --help\n$/);
    expect(leaks(run.stderr, VALUES)).toEqual([]);
  });

  it('a file that cannot be read: exit 2, the path not shown', async () => {
    const run = await inProcess(['emulator', '--seed', join(dir, KEYS.db1)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('keyflip emulator: --seed: cannot read the file (ENOENT); see keyflip emulator --help\n');
  });
});

/** A stand-in for the emulator (the arguments it got, the versions added) and an io of strings. */
function fake(): {
  started: SecretManagerEmulatorOptions[];
  added: [string, string][];
  closed: () => number;
  start: (options: SecretManagerEmulatorOptions) => Promise<SecretManagerEmulator>;
  io: CliIo;
  out: () => { stdout: string; stderr: string };
} {
  const started: SecretManagerEmulatorOptions[] = [];
  const added: [string, string][] = [];
  let closes = 0;
  let stdout = '';
  let stderr = '';
  return {
    started,
    added,
    closed: () => closes,
    start: async (options) => {
      started.push(options);
      return {
        host: `127.0.0.1:${options.port}`,
        restUrl: 'http://127.0.0.1:40000',
        addVersion: (id: string, value: string) => {
          added.push([id, value]);
          return String(added.filter(([name]) => name === id).length);
        },
        close: async () => {
          closes++;
        },
      } as unknown as SecretManagerEmulator;
    },
    io: {
      stdin: process.stdin,
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
    },
    out: () => {
      outputs.push(stdout, stderr);
      return { stdout, stderr };
    },
  };
}

describe('keyflip emulator: defaults, host, failures (in process)', () => {
  it(`defaults: port ${DEFAULT_EMULATOR_PORT}, host 127.0.0.1, project keyflip-test; file order`, async () => {
    const f = fake();
    // With a byte-order mark, and an integer-like name, which JSON.parse's objects list first.
    const seed = seedFile(`\uFEFF{ "B": ["${KEYS.db1}", "${KEYS.db2}"], "123": "${KEYS.unicode}" }`);
    const code = await emulatorCommand(['--seed', seed], f.io, { start: f.start, stop: async () => 'SIGTERM' });
    expect(code).toBe(0);
    expect(f.started).toEqual([{ host: '127.0.0.1', port: 7392, projectId: 'keyflip-test' }]);
    // In the file's order.
    expect(f.added).toEqual([
      ['B', KEYS.db1],
      ['B', KEYS.db2],
      ['123', KEYS.unicode],
    ]);
    expect(f.closed()).toBe(1);
    const { stdout, stderr } = f.out();
    expect(stdout).toBe('export SECRET_MANAGER_EMULATOR_HOST=127.0.0.1:7392\nexport KEYFLIP_PROJECT=keyflip-test\n');
    expect(stderr).not.toContain('WARNING');
    expect(stderr).toContain('seeded 2 secrets, 3 versions (values not shown):\n  B    2 versions\n  123  1 version\n');
  });

  it('an empty seed object seeds nothing and says so', async () => {
    const f = fake();
    const code = await emulatorCommand(['--seed', seedFile('{}')], f.io, { start: f.start, stop: async () => 0 });
    expect(code).toBe(0);
    expect(f.out().stderr).toContain('seeded 0 secrets, 0 versions (values not shown)\n');
  });

  it('a host other than loopback is allowed, with a loud warning (no authentication)', async () => {
    const f = fake();
    const code = await emulatorCommand(['--host', '0.0.0.0', '--port', '0'], f.io, {
      start: f.start,
      stop: async () => 'SIGTERM',
    });
    expect(code).toBe(0);
    expect(f.started[0]).toMatchObject({ host: '0.0.0.0', port: 0 });
    expect(f.out().stderr).toContain(
      'WARNING: listening on 0.0.0.0, not loopback. The emulator has no authentication: anything that can reach',
    );
  });

  it('the SDK missing: exit 2, saying what to install', async () => {
    const f = fake();
    const code = await emulatorCommand(['--port', '0'], f.io, {
      // The real loader, resolving from a directory where the package is not installed.
      start: async () => {
        loadEmulatorDeps([join(dir, 'nowhere', 'package.json')]);
        throw new Error('unreachable');
      },
    });
    expect(code).toBe(2);
    expect(f.out()).toEqual({
      stdout: '',
      stderr:
        'keyflip emulator: needs the package @google-cloud/secret-manager (the emulator serves its protos over ' +
        'its gRPC): npm install --save-dev @google-cloud/secret-manager\n',
    });
  });

  it('a port in use: exit 2, saying what to do (the real emulator)', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const f = fake();
      const code = await emulatorCommand(['--port', String(port)], f.io, { stop: async () => 'SIGTERM' });
      expect(code).toBe(2);
      expect(f.out()).toEqual({
        stdout: '',
        stderr:
          `keyflip emulator: cannot listen on 127.0.0.1:${port}: EADDRINUSE (another emulator may be running ` +
          'there); pass --port N, or --port 0 for any free port\n',
      });
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it.each([
    [['--port', '70000'], /--port needs an integer from 0 to 65535/],
    [['--port', 'x'], /--port needs an integer/],
    [['--host', 'bad host!'], /--host needs a host name or an address/],
    [['--host', KEYS.openai1], /--host looks like a key \(not shown\)/],
    [['--project', 'Not_A_Project'], /--project needs a project id/],
    [['--project', KEYS.openai1], /--project looks like a key \(not shown\)/],
    [[KEYS.db1], /unexpected argument #1 \(not shown\)/],
    [['--value', KEYS.db1], /unknown option #1 \(not shown\)/],
    [['--seed'], /--seed needs a value/],
  ])('%j: exit 2, nothing echoed', async (args, message) => {
    const run = await inProcess(['emulator', ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(leaks(run.stderr, VALUES)).toEqual([]);
  });

  it('--help, and keyflip --help lists the command', async () => {
    const help = await inProcess(['emulator', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^keyflip emulator \[--port N\] \[--host H\] \[--project ID\] \[--seed FILE\]\n/);
    expect(help.stdout).toContain(`default ${DEFAULT_EMULATOR_PORT}; 0 for any free port`);
    const top = await inProcess(['--help']);
    expect(top.stdout).toContain('keyflip emulator [--port N] [--host H] [--project ID] [--seed FILE]');
  });
});
