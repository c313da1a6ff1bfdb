/**
 * Benchmark 8: Google Cloud Secret Manager through keyflip/gcp, against the emulator over real gRPC.
 * - refresh cost: access calls per secret per period (1 when nothing changed; 2 while on a fallback);
 * - cold `import('keyflip/gcp')` in a fresh process (loads no SDK), and what the first fetch pays (SDK load,
 *   client construction, first call);
 * - one refresh round trip through keyflip vs a bare `accessSecretVersion` on the same client.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Keyflip } from './keyflip.js';
import { type BenchResult, best, formatMs, formatRatio, median, msSince, nowNs, ROOT, type Row } from './lib.js';

type Gcp = typeof import('../src/sources/gcp.js');
type Testing = typeof import('../src/testing/index.js');

const run = promisify(execFile);
const env = { ...process.env };
delete env.NODE_OPTIONS;

/** A fresh process, run asynchronously: the emulator it talks to lives in this process and must keep answering. */
async function child(script: string): Promise<{ ms: number; stdout: string }> {
  const start = nowNs();
  try {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
    });
    return { ms: msSince(start), stdout };
  } catch (error) {
    throw new Error(`bench child failed: ${(error as { stderr?: string }).stderr ?? String(error)}`);
  }
}

export async function gcpBench(keyflip: Keyflip, sink: { value: number }): Promise<BenchResult> {
  const gcp = (await import(pathToFileURL(join(ROOT, 'dist/gcp.js')).href)) as Gcp;
  const testing = (await import(pathToFileURL(join(ROOT, 'dist/testing/index.js')).href)) as Testing;
  const { SecretManagerServiceClient } = await import('@google-cloud/secret-manager');
  const emulator = await testing.startSecretManagerEmulator();
  const client = new SecretManagerServiceClient(emulator.clientOptions as never);
  await client.initialize();
  try {
    // 5a. Calls per secret per period, from the emulator's counters.
    const S = 20;
    const PERIODS = 5;
    for (let s = 0; s < S; s++) emulator.addVersion(`S${s}_v1`, `bench-value-${s}-xxxxxxxx`);
    emulator.addVersion('S0_v2', 'bench-value-0-v2-xxxxxxxx');
    const clock = testing.manualClock();
    const resolver = keyflip.createResolver({
      sources: [gcp.gcpSecretManager({ projectId: emulator.projectId, client })],
      clock,
      refreshMs: 60_000,
      jitter: 0,
    });
    for (let s = 0; s < S; s++) resolver.secret(`S${s}`, `S${s}_v2 ?? S${s}_v1`);
    await resolver.ready();
    emulator.resetCalls();
    for (let p = 0; p < PERIODS; p++) {
      await clock.advance(60_000);
      for (let i = 0; i < 200 && emulator.calls('AccessSecretVersion') < (p + 1) * (S + S - 1); i++)
        await new Promise((r) => setTimeout(r, 2));
    }
    const accessCalls = emulator.calls('AccessSecretVersion');
    const otherCalls = emulator.calls() - accessCalls;
    // S0 is on v2 (1 call); the S − 1 others are on their v1 fallback (2 calls: v2 not-found, then v1).
    const onFallback = (accessCalls / PERIODS - 1) / (S - 1);
    const onFirst = accessCalls / PERIODS - (S - 1) * onFallback;
    await resolver.close();

    // 5b/5c. A fresh process: import keyflip/gcp, then one fetch (SDK load, client construction, first call).
    const importScript = (fetch: boolean): string => `
      const t0 = performance.now();
      const { gcpSecretManager } = await import('keyflip/gcp');
      const t1 = performance.now();
      const { createRequire } = await import('node:module');
      const heavy = Object.keys(createRequire(import.meta.url).cache)
        .filter((p) => /@google-cloud|google-gax|@grpc/.test(p)).length;
      let t2 = t1;
      if (${fetch}) {
        const source = gcpSecretManager({
          projectId: '${emulator.projectId}',
          env: { SECRET_MANAGER_EMULATOR_HOST: '${emulator.host}' },
        });
        const r = await source.fetch({ name: 'S1_v1' }, { signal: new AbortController().signal, timeoutMs: 10000 });
        if (r.status !== 'found') throw new Error('bench: not found');
        t2 = performance.now();
        await source.close();
      }
      console.log(JSON.stringify({ importMs: t1 - t0, firstFetchMs: t2 - t1, heavy }));`;
    const RUNS = 8;
    const imports: number[] = [];
    const firsts: number[] = [];
    const bare: number[] = [];
    let heavyAtImport = 0;
    await child(importScript(false));
    for (let r = 0; r < RUNS; r++) {
      bare.push((await child('0')).ms);
      const plain = await child(importScript(false));
      imports.push(plain.ms);
      heavyAtImport += (JSON.parse(plain.stdout) as { heavy: number }).heavy;
      firsts.push((JSON.parse((await child(importScript(true))).stdout) as { firstFetchMs: number }).firstFetchMs);
    }

    // 5d. One refresh round trip: keyflip (handle.refresh()) vs a bare accessSecretVersion, same client.
    const roundTrip = keyflip.createResolver({
      sources: [gcp.gcpSecretManager({ projectId: emulator.projectId, client })],
      refreshMs: 3_600_000,
    });
    const handle = roundTrip.secret('RT', 'S1_v1');
    await roundTrip.ready();
    const name = `projects/${emulator.projectId}/secrets/S1_v1/versions/latest`;
    // Individually timed pairs, the order alternating: batches drift by more than the overhead measured.
    const PAIRS = 2_000;
    const kfTimes: number[] = [];
    const bareTimes: number[] = [];
    const timeKeyflip = async (): Promise<void> => {
      const start = nowNs();
      sink.value = (sink.value + (await handle.refresh()).fingerprint.length) | 0;
      kfTimes.push(Number(nowNs() - start));
    };
    const timeBare = async (): Promise<void> => {
      const start = nowNs();
      const [response] = await client.accessSecretVersion({ name }, {
        retry: null,
        timeout: 5_000,
        signal: new AbortController().signal,
      } as never);
      const data = response.payload?.data;
      if (data === undefined || data === null) throw new Error('bench: AccessSecretVersion returned no payload');
      sink.value = (sink.value + data.length) | 0;
      bareTimes.push(Number(nowNs() - start));
    };
    for (let i = 0; i < 200; i++) {
      await timeKeyflip();
      await timeBare();
    }
    kfTimes.length = 0;
    bareTimes.length = 0;
    for (let i = 0; i < PAIRS; i++) {
      if (i % 2 === 0) {
        await timeKeyflip();
        await timeBare();
      } else {
        await timeBare();
        await timeKeyflip();
      }
    }
    await roundTrip.close();
    const kfRt = median(kfTimes) / 1e6;
    const bareRt = median(bareTimes) / 1e6;

    const rows: Row[] = [
      {
        what: '8a. Secret Manager refresh cost: access calls per secret per period, nothing changed',
        keyflip: `${onFirst.toFixed(2)} calls`,
        baseline: '—',
        ratio: '—',
        target: '= 1',
        pass: Math.abs(onFirst - 1) < 1e-9 && otherCalls === 0,
      },
      {
        what: '8b. the same for a secret on its fallback (`S_v2 ?? S_v1`, v2 absent)',
        keyflip: `${onFallback.toFixed(2)} calls`,
        baseline: '—',
        ratio: '—',
        target: '= 2',
        pass: Math.abs(onFallback - 2) < 1e-9 && otherCalls === 0,
      },
      {
        what:
          "8c. fresh process: `await import('keyflip/gcp')` (SDK modules loaded: " +
          `${heavyAtImport})` +
          ' vs `node -e 0`',
        keyflip: formatMs(median(imports)),
        baseline: `${formatMs(median(bare))} (\`node -e 0\`)`,
        ratio: formatRatio(median(imports) / median(bare)),
        target: 'no SDK loaded',
        pass: heavyAtImport === 0,
      },
      {
        what: '8d. the first fetch in that process: SDK load + client construction + first call (paid once)',
        keyflip: formatMs(median(firsts)),
        baseline: '—',
        ratio: '—',
        target: '—',
        pass: null,
      },
      {
        what:
          '8e. one refresh round trip through keyflip (`handle.refresh()`) vs a bare `accessSecretVersion`, ' +
          'emulator over gRPC',
        keyflip: `${kfRt.toFixed(3)} ms`,
        baseline: `${bareRt.toFixed(3)} ms (bare call)`,
        ratio: formatRatio(kfRt / bareRt),
        target: '≤ 1.10×',
        pass: kfRt / bareRt <= 1.1,
      },
    ];
    const notes = [
      `8a–b: ${S} secrets (1 on v2, ${S - 1} on their v1 fallback) over ${PERIODS} periods of a manual clock; ` +
        `${accessCalls} AccessSecretVersion and ${otherCalls} other calls counted by the emulator.`,
      `8c–d: ${RUNS} fresh processes each; import best ${formatMs(best(imports))}; ` +
        `first fetch best ${formatMs(best(firsts))}.`,
      `8e: ${PAIRS} individually timed pairs after 200 warm-up pairs, the order alternating; medians. ` +
        `The bare call gets the same per-call options keyflip passes (no retry, a deadline, an AbortSignal).`,
    ];
    return { rows, notes };
  } finally {
    await client.close();
    await emulator.close();
  }
}
