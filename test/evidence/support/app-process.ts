/**
 * An app as its own process (run by {@link startApp}): it reads its key from its environment through keyflip
 * (`env:NAME`, NAME = EVIDENCE_SECRET), uses it a few times a second, and beacons to a collector with the real
 * `usageBeacon` and `httpSink`. Its own process so that a test can pause it (SIGSTOP: it cannot report, as
 * a process between two beacons) and resume it (SIGCONT). It prints `ready` once its key resolved, nothing
 * else; SIGTERM closes the resolver (the final report) and exits.
 */
import { httpSink, usageBeacon } from '../../../src/beacon/index.js';
import { createResolver, envSource } from '../../../src/index.js';

const env = process.env;
const resolver = createResolver({
  sources: [envSource()],
  refreshMs: 3_600_000,
  beacon: usageBeacon({
    service: env.EVIDENCE_SERVICE ?? 'legacy-worker',
    instanceId: env.EVIDENCE_INSTANCE_ID,
    intervalMs: Number(env.EVIDENCE_INTERVAL_MS ?? '1000'),
    sink: httpSink({ url: env.EVIDENCE_COLLECTOR_URL ?? '', token: env.EVIDENCE_TOKEN, backoffMs: 100 }),
  }),
});
const name = env.EVIDENCE_SECRET ?? 'OPENAI_API_KEY';
const key = resolver.secret(name, `env:${name}`);
await resolver.ready();
// Uses of the key, as an app's requests would read it.
const traffic = setInterval(() => key.value, 100);
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  clearInterval(traffic);
  resolver.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
