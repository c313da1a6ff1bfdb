/**
 * The services the fleet talks to, all in the drill's process on 127.0.0.1: the Secret Manager emulator
 * (gRPC), the mock provider (the openai preset, accepting v1 at first, with its management API: an admin key,
 * keys minted and deleted, per-key usage shown after a reporting lag) and the collector (HTTP, with the
 * drill's token, and a state file as `keyflip collector --state` keeps). They stand in for Google's and OpenAI's
 * infrastructure and the operator's collector, which the drill restarts once (on the same port, from its state
 * file) to show that verify cannot prove anything until the collector has observed the window again. The admin key
 * is in a file (mode 0600) next to the collector's state, as `--admin-key-file` takes it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { providers } from '../src/clients/index.js';
import { type CollectorServer, openCollector, startCollectorServer } from '../src/collector/index.js';
import { openProvider, type ProviderAdmin } from '../src/providers/index.js';
import {
  type MockProvider,
  type SecretManagerEmulator,
  startMockProvider,
  startSecretManagerEmulator,
} from '../src/testing/index.js';
import { PROJECT, PROVIDER_PROJECT, SECRET } from './constants.js';
import type { DrillContext, KeyName } from './context.js';
import { seconds } from './stats.js';

export interface DrillServices {
  readonly emulator: SecretManagerEmulator;
  readonly mock: MockProvider;
  /** The collector now: {@link restartCollector} replaces it (same port, same state file). */
  collector: CollectorServer;
  /** The collector's state file (in a directory of its own, removed by {@link closeServices}). */
  readonly statePath: string;
  /** The file holding the provider's admin key (`--admin-key-file`), in the same directory. */
  readonly adminKeyFile: string;
  /** The mock's management API as the drill itself uses it (the emergency's revocation at the provider). */
  readonly provider: ProviderAdmin;
}

/** The collector's retention: longer than any window of the drill. */
const RETENTION_MS = 3_600_000;

/** The collector, from its state file (created on the first start), serving on `port` (0: any free port). */
async function openCollectorServer(drill: DrillContext, statePath: string, port: number): Promise<CollectorServer> {
  const collector = await openCollector({ retentionMs: RETENTION_MS, statePath });
  try {
    return await startCollectorServer({ collector, port, token: drill.token });
  } catch (error) {
    await collector.close();
    throw error;
  }
}

/**
 * Starts the three services. What started is handed to `started` as it comes up, so that a failure half-way
 * (or an abort) still closes what is running.
 */
export async function startServices(
  drill: DrillContext,
  started: (part: Partial<DrillServices>) => void,
): Promise<DrillServices> {
  const emulator = await startSecretManagerEmulator({ projectId: PROJECT });
  started({ emulator });
  const mock = await startMockProvider({
    preset: providers.openai,
    keys: [drill.keys.v1],
    management: { adminKeys: [drill.adminKey], project: PROVIDER_PROJECT, lagMs: drill.settings.lagMs },
  });
  started({ emulator, mock });
  const dir = mkdtempSync(join(tmpdir(), 'keyflip-drill-'));
  const statePath = join(dir, 'collector.state');
  const adminKeyFile = join(dir, 'provider-admin-key');
  writeFileSync(adminKeyFile, `${drill.adminKey}\n`, { mode: 0o600 });
  started({ emulator, mock, statePath, adminKeyFile });
  const collector = await openCollectorServer(drill, statePath, 0);
  started({ emulator, mock, statePath, adminKeyFile, collector });
  drill.note(
    `services up on 127.0.0.1: Secret Manager emulator ${emulator.host} (gRPC), ` +
      `mock provider (openai, with its management API: project ${PROVIDER_PROJECT}, usage shown ` +
      `${drill.settings.lagMs} ms late, in one-minute buckets) ${mock.url}, collector ${collector.url}`,
  );
  const { fp } = drill;
  drill.note(
    `keys (fingerprints): v1 ${fp.v1}, v2 ${fp.v2}, v3 ` +
      `${drill.settings.layout === 'alias' ? 'made in the provider’s console and staged' : 'minted at the provider'} ` +
      `by \`rotate auto\`, v4 ${fp.v4}; ` +
      `layout ${drill.settings.layout}; apps declare \`${drill.chain}\` for the whole drill`,
  );
  const provider = openProvider({
    provider: 'openai',
    adminKey: drill.adminKey,
    baseUrl: mock.url,
    project: PROVIDER_PROJECT,
    lagMs: drill.settings.lagMs,
  });
  return { emulator, mock, collector, statePath, adminKeyFile, provider };
}

/**
 * Restarts the collector as an operator's restart would: stops it (its last save), then starts it again from its
 * state file on the same port, so the workers' beacons reach it at the same URL. Resolves with the moment the new
 * collector starts (its coverage begins no earlier; it listens a little later). The evidence it saved is kept; the
 * time it was down is evidence it did not see.
 */
export async function restartCollector(drill: DrillContext, services: DrillServices): Promise<number> {
  const old = services.collector;
  await old.close();
  await old.collector.close();
  const stoppedAt = Date.now();
  // The new collector observes from its own start, which comes before it listens (the state file is read first):
  // the time it starts is where its coverage begins, and what the restart checks count from.
  const startingAt = Date.now();
  services.collector = await openCollectorServer(drill, services.statePath, old.port);
  const restartedAt = Date.now();
  drill.note(
    `collector restarted on the same port from its state file (down ${seconds(restartedAt - stoppedAt)}): it ` +
      'remembers who held which key, and the time it was down is evidence it did not see',
    restartedAt,
  );
  return startingAt;
}

/** Closes whatever of the services is running, and removes the collector's state file; never throws. */
export async function closeServices(services: Partial<DrillServices>): Promise<void> {
  const collector = services.collector;
  await Promise.allSettled([
    services.mock?.close(),
    collector?.close().then(() => collector.collector.close()),
    services.emulator?.close(),
  ]);
  if (services.statePath !== undefined) rmSync(dirname(services.statePath), { recursive: true, force: true });
}

/** The instances the collector saw holding `key` within the window, now. */
export function holders(drill: DrillContext, services: DrillServices, key: KeyName): string[] {
  return services.collector.collector
    .usage(SECRET, { windowMs: drill.settings.windowMs })
    .fingerprints.filter((f) => f.fingerprint === drill.fp[key])
    .flatMap((f) => f.instances.map((i) => i.id));
}
