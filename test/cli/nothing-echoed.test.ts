/**
 * The CLI prints an argument back only once it is checked to be a name, a path or a URL without credentials;
 * anything else is refused unshown, and every line it writes passes the provider-format redaction.
 */
import { describe, expect, it } from 'vitest';
import { fenced, looksLikeKey } from '../../src/cli/shown.js';
import { leaks } from '../helpers.js';
import { runInProcess } from '../support/cli.js';

/** Shaped like real keys (made up). */
const OPENAI = `sk-proj-${'A1b2C3d4E5f6G7h8'.repeat(2)}T3BlbkFJ${'x9Y8w7V6u5T4s3R2'.repeat(2)}`;
/** `sk-proj-` without the provider's marker: not a provider format, still a key to a reader. */
const SK_PROJ = 'sk-proj-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const TOKEN = 'Zq8Xv3Lm9Tn2Rb7Kd4Hs6Wy1Pc5Gf0Ja';
const PASSWORD = 'hunter2-Pa55w0rd';
const SECRETS = [OPENAI, SK_PROJ, TOKEN, PASSWORD];
const FINGERPRINT = 'kf_0123456789ab';
/** Nothing listens on port 1: a backend the commands cannot reach (they fail after the arguments are checked). */
const ENV = { SECRET_MANAGER_EMULATOR_HOST: '127.0.0.1:1' };

const cases: [string, string[], RegExp][] = [
  [
    '--prometheus URL with a password and a typo',
    ['verify', 'KEY', '--retired', FINGERPRINT, '--prometheus', `htp://admin:${PASSWORD}@prom.example:9090`],
    /--prometheus needs an http\(s\) URL \(not shown\)/,
  ],
  [
    '--collector URL with a password and a typo',
    ['verify', 'KEY', '--retired', FINGERPRINT, '--collector', `htps://admin:${PASSWORD}@127.0.0.1:1`],
    /--collector needs an http\(s\) URL \(not shown\)/,
  ],
  [
    'rotate --prometheus with a typo',
    ['rotate', 'status', 'KEY', '--project', 'p', '--prometheus', `htp://admin:${PASSWORD}@prom.example`],
    /--prometheus needs an http\(s\) URL \(not shown\)/,
  ],
  ...[OPENAI, SK_PROJ, TOKEN].map((key): [string, string[], RegExp] => [
    `verify SECRET that is a key (${key.slice(0, 8)}…)`,
    ['verify', key, '--retired', FINGERPRINT, '--collector', 'http://127.0.0.1:1'],
    /SECRET looks like a key \(not shown\)/,
  ]),
  ['rotate SECRET that is a key', ['rotate', 'status', SK_PROJ, '--project', 'p'], /SECRET looks like a key/],
  ['an unknown command', [OPENAI], /unknown command \(not shown\)/],
  ['an unknown rotate command', ['rotate', SK_PROJ], /unknown command \(not shown\)/],
  ['a scan path that is a key', ['scan', SK_PROJ], /path #1 looks like a key \(not shown\)/],
  ['a scan path holding a key', ['scan', `/nonexistent/${TOKEN}`], /path #1 looks like a key \(not shown\)/],
  ['an unknown option', ['verify', `--${SK_PROJ}`], /unknown option #1 \(not shown\)/],
  ['an unknown option with a value', ['scan', `--token=${TOKEN}`], /unknown option #1 \(not shown\)/],
  ['--host that is a key', ['collector', '--host', SK_PROJ], /--host looks like a key \(not shown\)/],
  ['--host that is a token', ['collector', '--host', TOKEN], /--host looks like a key \(not shown\)/],
];

describe('the CLI never echoes an argument it has not checked', () => {
  it.each(cases)('%s: exit 2, refused unshown', async (_, args, message) => {
    const run = await runInProcess(args, { env: ENV });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(leaks(run.stdout + run.stderr, SECRETS)).toEqual([]);
  });

  it('names, paths and URLs without credentials are still shown once checked', async () => {
    const run = await runInProcess(['collector', '--host', 'collector.internal'], { env: ENV });
    expect(run.stderr).toContain('listening on collector.internal (not loopback) needs a token');
  });

  it('looksLikeKey: keys and tokens yes, names and paths no', () => {
    for (const key of [OPENAI, SK_PROJ, TOKEN, `AIza${'x'.repeat(35)}`, 'ghp_0123456789abcdefghij'])
      expect(looksLikeKey(key), key).toBe(true);
    for (const name of ['OPENAI_API_KEY', 'OPENAI_API_KEY_v2', 'skeleton-secret-name-v2', 'src/cli/main.ts', '.'])
      expect(looksLikeKey(name), name).toBe(false);
  });

  it('the last fence: every line written through the CLI passes the provider-format redaction', () => {
    let out = '';
    let err = '';
    const io = fenced({
      stdin: process.stdin,
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
    });
    io.stdout.write(`name ${OPENAI}\n`);
    io.stderr.write(`keyflip: failed for ${OPENAI}\n`);
    expect(out).toBe('name [redacted openai key]\n');
    expect(err).toBe('keyflip: failed for [redacted openai key]\n');
  });
});
