/**
 * What only a fresh process can show: importing 'keyflip/testing' loads no gRPC, the emulator and the
 * client share one @grpc/grpc-js, clientOptions never look for credentials (no ADC, no metadata server),
 * proxies in the environment do not capture loopback gRPC, and nothing is printed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DependencyError } from '../../src/errors.js';
import { EmulatorDependencyError, loadEmulatorDeps } from '../../src/testing/emulator/load.js';
import { REST_HAS_NO_DEADLINE_OR_RETRY } from './rpc-failure.js';

const root = resolve(import.meta.dirname, '../..');
const fixture = join(import.meta.dirname, 'fixtures', 'emulator-process.ts');
const home = mkdtempSync(join(tmpdir(), 'keyflip-emulator-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function run(
  mode: 'main' | 'control',
  extraEnv: Record<string, string> = {},
): { result: Record<string, unknown>; stdout: string; stderr: string } {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value === undefined ||
      /^(GOOGLE_|GCE_|GCLOUD_|CLOUDSDK_|METADATA_SERVER_DETECTION$|NODE_OPTIONS$|.*_proxy$)/i.test(key)
    )
      continue;
    env[key] = value;
  }
  // No credentials anywhere: ADC would have to ask the metadata server, which the fixture counts.
  Object.assign(env, { HOME: home, USERPROFILE: home, CLOUDSDK_CONFIG: join(home, 'gcloud'), APPDATA: home }, extraEnv);
  const child = spawnSync(process.execPath, ['--import', 'tsx', fixture, mode], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(child.status, child.stderr).toBe(0);
  const lines = child.stdout.trim().split('\n');
  return {
    result: JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>,
    stdout: child.stdout,
    stderr: child.stderr,
  };
}

describe('the emulator in a fresh process', () => {
  it('loads gRPC when started, shares the client’s grpc-js, no metadata probe, ignores proxies, prints nothing', () => {
    const deadProxy = 'http://127.0.0.1:9';
    const { result, stdout, stderr } = run('main', {
      http_proxy: deadProxy,
      https_proxy: deadProxy,
      grpc_proxy: deadProxy,
    });
    expect(result.heavyBeforeStart).toEqual([]); // importing keyflip/testing loaded none of it
    expect(result.grpcAfterStart).toBe(1);
    expect(result.grpcCopies).toBe(1); // the client, loaded afterwards, found the very same copy
    // gRPC then REST: served; NOT_FOUND; injected UNAVAILABLE; NOT_FOUND (a version that does not exist); deadline
    // under latency.
    // Last: the call in flight when the emulator closed failed (UNAVAILABLE or CANCELLED), close() did not wait.
    const outcomes = result.outcomes as string[];
    // SDK 6 over REST (google-gax 5) ignores the call's deadline: that call waits out the latency, served.
    const restDeadline = REST_HAS_NO_DEADLINE_OR_RETRY ? 'ok' : '4';
    expect(outcomes.slice(0, 10)).toEqual(['value', '5', '14', '5', '4', 'value', '5', '14', '5', restDeadline]);
    expect(['14', '1']).toContain(outcomes[10]);
    expect(result.metadataHits).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stderr).toBe('');
  });

  it('control: a client without the emulator’s auth options DOES probe the metadata server (so it can fail)', () => {
    const { result } = run('control');
    expect(result.served).toBe('value');
    expect(result.metadataHits).toBeGreaterThan(0);
  });

  it('without @google-cloud/secret-manager resolvable, says which package to install', () => {
    const nowhere = join(home, 'no-project', 'index.js');
    expect(() => loadEmulatorDeps([nowhere])).toThrow(EmulatorDependencyError);
    expect(() => loadEmulatorDeps([nowhere])).toThrow(/npm install --save-dev @google-cloud\/secret-manager/);
    // one of the error family: a DependencyError naming the package
    expect(() => loadEmulatorDeps([nowhere])).toThrow(DependencyError);
    expect(() => loadEmulatorDeps([nowhere])).toThrow(
      expect.objectContaining({
        name: 'EmulatorDependencyError',
        code: 'DEPENDENCY_MISSING',
        packageName: '@google-cloud/secret-manager',
      }),
    );
  });
});
