/**
 * The GitHub Actions examples (examples/github-actions/*.yml) call the CLI as a reader would copy it:
 * every `npx keyflip …` line in them is run here against the emulator (writes as --dry-run, the probe and the
 * management API against the mock provider, the admin key in KEYFLIP_PROVIDER_ADMIN_KEY as the workflows set it)
 * and must be valid usage: exit 0 or 1, never 2. The rotation is fully automated: `rotate auto` every 15 minutes,
 * staging's policy a week shorter than production's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCollectorServer, type CollectorServer } from '../../src/collector/index.js';
import {
  startMockProvider,
  startSecretManagerEmulator,
  type MockProvider,
  type SecretManagerEmulator,
} from '../../src/testing/index.js';
import { runInProcess } from '../support/cli.js';

const dir = fileURLToPath(new URL('../../examples/github-actions', import.meta.url));
const KEY = 'sk-workflow-example-0123456789abcdefABCDEF';
const ADMIN_KEY = 'sk-admin-workflow-example-9f8e7d6c5b4a39281706';
const PROVIDER_PROJECT = 'proj_ghactions01';
const WRITES = new Set(['provision', 'probe', 'flip', 'revoke', 'emergency', 'discard', 'rollback', 'migrate', 'auto']);

let emulator: SecretManagerEmulator;
let mock: MockProvider;
let collector: CollectorServer;

beforeAll(async () => {
  emulator = await startSecretManagerEmulator();
  mock = await startMockProvider({
    preset: 'openai',
    keys: [KEY],
    management: { adminKeys: [ADMIN_KEY], project: PROVIDER_PROJECT },
  });
  collector = await startCollectorServer({});
  // The seed's first key, in the pair layout (the default): apps declare OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1.
  emulator.createSecret('OPENAI_API_KEY_v1', {
    labels: { 'keyflip-managed': 'true', 'keyflip-layout': 'pair', 'keyflip-environment': 'prod' },
    annotations: { 'keyflip-name': 'OPENAI_API_KEY' },
  });
  emulator.addVersion('OPENAI_API_KEY_v1', 'sk-workflow-live-key-9876543210zyxwvuZYXW');
});
afterAll(async () => {
  await collector?.close();
  await mock?.close();
  await emulator?.close();
});

/** Splits a shell command line into words (double and single quotes; no expansion but the substitutions). */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? (m[3] as string));
  return out;
}

function commands(text: string): { line: string; args: string[]; stdin: boolean }[] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  const out: { line: string; args: string[]; stdin: boolean }[] = [];
  for (const m of joined.matchAll(/(printf[^|\n]*\|\s*)?npx keyflip ([^|>\n]*)/g)) {
    const line = (m[2] as string).replace(/\s*(\|\||&&).*$/, '').trim();
    const substituted = line
      .replace(/\$\{\{[^}]*\}\}/g, emulator.projectId)
      .replace(/\$SECRET/g, 'OPENAI_API_KEY')
      .replace(/\$ENVIRONMENT/g, 'staging')
      .replace(/\$MAX_AGE/g, '83d')
      .replace(/\$COLLECTOR/g, collector.url)
      .replace(/\$REASON/g, 'the new key misbehaves in production');
    out.push({ line, args: words(substituted), stdin: m[1] !== undefined });
  }
  return out;
}

it('every `npx keyflip …` line of the workflow examples is valid usage of the CLI', async () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
  expect(files.sort()).toEqual(['key-age-audit.yml', 'staged-rotation.yml']);
  const rotation = readFileSync(join(dir, 'staged-rotation.yml'), 'utf8');
  // Every 15 minutes, one step of each environment's rotation; staging's policy a week shorter than production's.
  expect(rotation).toContain("cron: '*/15 * * * *'");
  expect(rotation).toMatch(/environment: staging\s+max-age: 83d\s+- environment: prod\s+max-age: 90d/);
  const seen: string[] = [];
  for (const file of files) {
    for (const { line, args, stdin } of commands(readFileSync(join(dir, file), 'utf8'))) {
      const [command, sub] = args;
      const managed = args.includes('--provider') && (command === 'audit' || sub === 'auto');
      const extra = [
        ...(command === 'rotate' && WRITES.has(sub ?? '') ? ['--dry-run'] : []),
        ...(sub === 'probe' || sub === 'auto' ? ['--base-url', mock.url] : []),
        ...(managed ? ['--provider-base-url', mock.url] : []),
      ];
      const { code, stdout, stderr } = await runInProcess([...args, ...extra], {
        stdin: stdin ? KEY : undefined,
        env: {
          SECRET_MANAGER_EMULATOR_HOST: emulator.host,
          KEYFLIP_PROJECT: emulator.projectId,
          KEYFLIP_PROVIDER_ADMIN_KEY: ADMIN_KEY,
          KEYFLIP_PROVIDER_PROJECT: PROVIDER_PROJECT,
        },
      });
      expect({ file, line, code, stderr }).toEqual({
        file,
        line,
        code: expect.toSatisfy((c: number) => c === 0 || c === 1),
        stderr: '',
      });
      expect(stdout).not.toContain(KEY);
      expect(stdout).not.toContain(ADMIN_KEY);
      // The default layout: the key is staged where no app reads it, and apps declare the pair's two names.
      if (command === 'rotate' && sub === 'provision') expect(stdout).toContain('in OPENAI_API_KEY_next');
      if (command === 'rotate' && sub === 'status' && !args.includes('--json'))
        expect(stdout).toContain('Apps declare OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1 (pair layout');
      // The scheduled step reads the provider: a live key within the policy, nothing to do.
      if (command === 'rotate' && sub === 'auto') expect(stdout).toMatch(/nothing to do|would stage|waiting for/);
      seen.push(`${command} ${command === 'rotate' ? sub : ''}`.trim());
    }
  }
  expect([...new Set(seen)].sort()).toEqual(['audit', 'rotate auto', 'rotate rollback', 'rotate status']);
});
