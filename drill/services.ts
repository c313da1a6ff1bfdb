/**
 * The services the fleet talks to, all in the drill's process on 127.0.0.1: the Secret Manager emulator
 * (gRPC), the mock provider (the openai preset, accepting v1 at first) and the collector (HTTP, with the
 * drill's token). They stand in for Google's and OpenAI's infrastructure and the operator's collector.
 */
import { providers } from '../src/clients/index.js';
import { createCollector, startCollectorServer, type CollectorServer } from '../src/collector/index.js';
import {
  type MockProvider,
  type SecretManagerEmulator,
  startMockProvider,
  startSecretManagerEmulator,
} from '../src/testing/index.js';
import { PROJECT, SECRET } from './constants.js';
import type { DrillContext } from './context.js';

export interface DrillServices {
  readonly emulator: SecretManagerEmulator;
  readonly mock: MockProvider;
  readonly collector: CollectorServer;
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
  const mock = await startMockProvider({ preset: providers.openai, keys: [drill.keys.v1] });
  started({ emulator, mock });
  const collector = await startCollectorServer({
    collector: createCollector({ retentionMs: 3_600_000 }),
    port: 0,
    token: drill.token,
  });
  started({ emulator, mock, collector });
  drill.note(
    `services up on 127.0.0.1: Secret Manager emulator ${emulator.host} (gRPC), ` +
      `mock provider (openai) ${mock.url}, collector ${collector.url}`,
  );
  const { fp } = drill;
  drill.note(
    `keys (fingerprints): v1 ${fp.v1}, v2 ${fp.v2}, v3 ${fp.v3}; layout ${drill.settings.layout}; ` +
      `apps declare \`${drill.chain}\``,
  );
  return { emulator, mock, collector };
}

/** Closes whatever of the services is running; never throws. */
export async function closeServices(services: Partial<DrillServices>): Promise<void> {
  await Promise.allSettled([services.mock?.close(), services.collector?.close(), services.emulator?.close()]);
}

/** The instances the collector saw holding `key` within the window, now. */
export function holders(drill: DrillContext, services: DrillServices, key: 'v1' | 'v2'): string[] {
  return services.collector.collector
    .usage(SECRET, { windowMs: drill.settings.windowMs })
    .fingerprints.filter((f) => f.fingerprint === drill.fp[key])
    .flatMap((f) => f.instances.map((i) => i.id));
}
