/**
 * A process must never be invisible because of its own configuration: `usageBeacon()` refuses, when it is
 * created, every option that would make the collector refuse its reports (naming the field and the limit), and
 * what the resolver adds at run time (secret names, candidates, sources, versions) is checked when each report is
 * built: a secret that cannot fit is left out (told once as `BEACON_SECRET_OMITTED`), never the whole report.
 */
import { describe, expect, it } from 'vitest';
import {
  BEACON_LIMITS,
  type BeaconOmissionError,
  type BeaconOptions,
  type BeaconReport,
  type BeaconSink,
  usageBeacon,
} from '../../src/beacon/index.js';
import { validateReport } from '../../src/collector/report.js';
import { ConfigurationError, memorySource, type ResolverErrorEvent, type ResolverOptions } from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { found, leaks, scriptedSource, trackResolvers } from '../helpers.js';

const resolverFor = trackResolvers();

function keep(): BeaconSink & { reports: BeaconReport[] } {
  const reports: BeaconReport[] = [];
  return { reports, send: (report) => void reports.push(report) };
}

const sink = keep();
const x = (n: number, c = 'x'): string => c.repeat(n);

describe('usageBeacon(): every field that reaches a report is checked against BEACON_LIMITS at creation', () => {
  const labels = (n: number): Record<string, string> =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'v']));
  const cases: [string, Partial<BeaconOptions>, string][] = [
    [
      'service too long',
      { service: x(257) },
      'usageBeacon: service is 257 characters; the collector accepts at most 256 (BEACON_LIMITS.chars.service)',
    ],
    [
      'service with a control character',
      { service: 'svc\nprod' },
      'usageBeacon: service holds a control character (U+000A at index 3); the collector refuses those',
    ],
    [
      'environment too long',
      { environment: x(129) },
      'usageBeacon: environment is 129 characters; the collector accepts at most 128 ' +
        '(BEACON_LIMITS.chars.environment)',
    ],
    [
      'environment with a control character',
      { environment: 'prod\u0007' },
      'usageBeacon: environment holds a control character (U+0007 at index 4); the collector refuses those',
    ],
    [
      'instanceId too long',
      { instanceId: x(257) },
      'usageBeacon: instanceId is 257 characters; the collector accepts at most 256 (BEACON_LIMITS.chars.id)',
    ],
    [
      'instanceId with a control character',
      { instanceId: 'pod\u0000' },
      'usageBeacon: instanceId holds a control character (U+0000 at index 3); the collector refuses those',
    ],
    [
      'too many labels',
      { labels: labels(33) },
      'usageBeacon: labels has 33 labels; the collector accepts at most 32 (BEACON_LIMITS.labels)',
    ],
    [
      'a label value too long (the 306-character label of issue 12)',
      { labels: { region: x(306) } },
      'usageBeacon: labels.region is 306 characters; the collector accepts at most 256 ' +
        '(BEACON_LIMITS.chars.labelValue)',
    ],
    [
      'a label value with a control character',
      { labels: { region: 'eu\r\nX-Evil: 1' } },
      'usageBeacon: labels.region holds a control character (U+000D at index 2); the collector refuses those',
    ],
    [
      'a label name too long',
      { labels: { [x(101, 'k')]: 'v' } },
      `usageBeacon: the name of labels["${x(48, 'k')}…"] is 101 characters; the collector accepts at most 100 ` +
        '(BEACON_LIMITS.chars.labelKey)',
    ],
    [
      'a label name with a control character',
      { labels: { 'a\tb': 'v' } },
      'usageBeacon: the name of labels["a\\tb"] holds a control character (U+0009 at index 1); the collector ' +
        'refuses those',
    ],
    ['an empty label name', { labels: { '': 'v' } }, 'usageBeacon: a label name is empty; the collector refuses it'],
    [
      'intervalMs below the minimum',
      { intervalMs: 999 },
      'usageBeacon: intervalMs is 999; the collector accepts 1000 to 86400000 ms (BEACON_LIMITS.intervalMs)',
    ],
    [
      'intervalMs above the maximum',
      { intervalMs: 86_400_001 },
      'usageBeacon: intervalMs is 86400001; the collector accepts 1000 to 86400000 ms (BEACON_LIMITS.intervalMs)',
    ],
  ];
  for (const [what, options, message] of cases) {
    it(`${what}: a ConfigurationError naming the field and the limit, never the content`, () => {
      let error: unknown;
      try {
        usageBeacon({ service: 'svc', sink, ...options });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).code).toBe('INVALID_OPTIONS');
      expect((error as Error).message).toBe(message);
      expect(leaks((error as Error).message, [x(20), 'X-Evil', 'prod\u0007'])).toEqual([]);
    });
  }

  it('accepts every field at its limit exactly, and the collector accepts the report it makes', async () => {
    const clock = manualClock();
    const keeping = keep();
    const c = BEACON_LIMITS.chars;
    const scripted = scriptedSource(x(c.source, 's'));
    const name = x(c.name, 'N');
    const candidate = x(c.candidate, 'C');
    scripted.answer(candidate, found('value-at-the-limits', x(c.version, '9')));
    const resolver = resolverFor({
      sources: [scripted],
      clock,
      jitter: 0,
      beacon: usageBeacon({
        service: x(c.service, 's'),
        environment: x(c.environment, 'e'),
        instanceId: x(c.id, 'i'),
        labels: Object.fromEntries(
          Array.from({ length: BEACON_LIMITS.labels }, (_, i) => [
            x(c.labelKey - 2, 'k') + String(i).padStart(2, '0'),
            x(c.labelValue, 'v'),
          ]),
        ),
        intervalMs: BEACON_LIMITS.intervalMs.max,
        sink: keeping,
      }),
    });
    const errors = beaconErrors(resolver);
    resolver.secret(name, candidate);
    await resolver.ready();
    await clock.flush();
    const [report] = keeping.reports;
    expect(report?.secrets.map((s) => [s.name.length, s.candidate.length, s.source.length, s.version?.length])).toEqual(
      [[c.name, c.candidate, c.source, c.version]],
    );
    expect(report?.intervalMs).toBe(BEACON_LIMITS.intervalMs.max);
    expect(() => validateReport(JSON.parse(JSON.stringify(report)))).not.toThrow();
    expect(errors).toEqual([]);
    expect(() => usageBeacon({ service: 's', sink, intervalMs: BEACON_LIMITS.intervalMs.min })).not.toThrow();
  });
});

/** The resolver's own `error` events (the beacon's), in order. */
function beaconErrors(resolver: ReturnType<typeof resolverFor>): ResolverErrorEvent[] {
  const errors: ResolverErrorEvent[] = [];
  resolver.on('error', (event) => {
    if (event.secret === undefined) errors.push(event);
  });
  return errors;
}

/** A resolver on a manual clock beaconing every second into a keeping sink, its beacon errors recorded. */
function rig(options: Partial<ResolverOptions> = {}) {
  const clock = manualClock();
  const keeping = keep();
  const resolver = resolverFor({
    sources: [memorySource()],
    clock,
    jitter: 0,
    beacon: usageBeacon({ service: 'svc', sink: keeping, intervalMs: 1_000 }),
    ...options,
  });
  const errors = beaconErrors(resolver);
  return { clock, keeping, resolver, errors };
}

const names = (report: BeaconReport | undefined): string[] => report?.secrets.map((s) => s.name) ?? [];

describe('beacon: what the resolver adds is checked when a report is built', () => {
  it('a secret whose name, candidate or source cannot fit is left out (not the report), told once', async () => {
    const src = scriptedSource(x(101, 's'));
    const ok = scriptedSource('ok');
    const longName = x(300, 'L');
    for (const [ref, value] of [
      ['GOOD', 'value-good-1'],
      [longName, 'value-long-name-1'],
      ['C', 'value-c-1'],
      [x(513, 'C'), 'value-long-candidate-1'],
      ['BELL', 'value-bell-1'],
    ] as const)
      ok.answer(ref, found(value));
    src.answer('FROM_LONG_SOURCE', found('value-long-source-1'));
    const { clock, keeping, resolver, errors } = rig({ sources: [ok, src] });
    resolver.secret('GOOD');
    resolver.secret(longName);
    resolver.secret('LONG_CANDIDATE', x(513, 'C'));
    resolver.secret('A\u0007B', 'BELL'); // a control character in the name: the collector refuses it
    resolver.secret('LONG_SOURCE', `${x(101, 's')}:FROM_LONG_SOURCE`);
    await resolver.ready().catch(() => undefined);
    await clock.flush();
    expect(keeping.reports).toHaveLength(1);
    expect(names(keeping.reports[0])).toEqual(['GOOD']); // the others are out; GOOD is still visible
    expect(errors).toHaveLength(1);
    const error = errors[0]?.error as BeaconOmissionError;
    expect(error.code).toBe('BEACON_SECRET_OMITTED');
    expect(error.omitted).toEqual([
      {
        secret: x(256, 'L'),
        field: 'name',
        problem: 'is 300 characters; the collector accepts at most 256',
        effect: 'left-out',
      },
      {
        secret: 'LONG_CANDIDATE',
        field: 'candidate',
        problem: 'is 513 characters; the collector accepts at most 512',
        effect: 'left-out',
      },
      {
        secret: 'A\u0007B',
        field: 'name',
        problem: 'holds a control character (U+0007 at index 1); the collector refuses those',
        effect: 'left-out',
      },
      {
        secret: 'LONG_SOURCE',
        field: 'source',
        problem: 'is 101 characters; the collector accepts at most 100',
        effect: 'left-out',
      },
    ]);
    expect(error.message).toMatch(
      /^usage beacon: its reports leave out 4 secrets \(`verify` cannot see them\), because the collector would refuse/,
    );
    expect(error.message).toContain('"LONG_CANDIDATE": its candidate is 513 characters');
    expect(error.message).toContain('"A\\u0007B": its name holds a control character');
    expect(error.message).toMatch(/Shorten those names or candidates, or declare fewer secrets per resolver$/);
    await clock.advance(5_000);
    expect(keeping.reports).toHaveLength(6);
    expect(keeping.reports.every((r) => names(r).join() === 'GOOD')).toBe(true);
    expect(errors).toHaveLength(1); // told once, not per report
    expect(leaks(JSON.stringify(errors.map((e) => e.error.message)), ['value-'])).toEqual([]);
  });

  it('a version that cannot fit is left out of its secret (reported by fingerprint), told per change', async () => {
    const src = scriptedSource('s');
    src.answer('K', found('value-k-1', x(129, '7')));
    const { clock, keeping, resolver, errors } = rig({ sources: [src] });
    resolver.secret('K');
    await resolver.ready();
    await clock.flush();
    expect(keeping.reports[0]?.secrets[0]).toMatchObject({ name: 'K', candidate: 'K' });
    expect(keeping.reports[0]?.secrets[0]).not.toHaveProperty('version');
    expect(errors.map((e) => (e.error as BeaconOmissionError).omitted)).toEqual([
      [
        {
          secret: 'K',
          field: 'version',
          problem: 'is 129 characters; the collector accepts at most 128',
          effect: 'no-version',
        },
      ],
    ]);
    expect(errors[0]?.error.message).toMatch(/^usage beacon: its reports send 1 without its version \(verify those by/);
    await clock.advance(2_000);
    expect(errors).toHaveLength(1);
    src.answer('K', found('value-k-2', '2')); // a rotation to a version that fits: reported with it, silently
    await resolver.refresh();
    await clock.flush();
    expect(keeping.reports.at(-1)?.secrets[0]?.version).toBe('2');
    expect(errors).toHaveLength(1);
    src.answer('K', found('value-k-3', x(200, '3'))); // and back: a new change of state, told again
    await resolver.refresh();
    await clock.flush();
    expect(keeping.reports.at(-1)?.secrets[0]).not.toHaveProperty('version');
    expect(errors).toHaveLength(2);
  });

  it(`over ${BEACON_LIMITS.secrets} secrets: the first ones are reported, the rest told once`, async () => {
    const count = BEACON_LIMITS.secrets + 2;
    const held = Object.fromEntries(Array.from({ length: count }, (_, i) => [`S${i}`, `value-s-${i}`]));
    const { clock, keeping, resolver, errors } = rig({ sources: [memorySource(held)], refreshMs: 3_600_000 });
    for (let i = 0; i < count; i++) resolver.secret(`S${i}`);
    await resolver.ready();
    await clock.flush();
    const [report] = keeping.reports;
    expect(report?.secrets).toHaveLength(BEACON_LIMITS.secrets);
    expect(names(report).at(-1)).toBe(`S${BEACON_LIMITS.secrets - 1}`);
    expect(() => validateReport(JSON.parse(JSON.stringify(report)))).not.toThrow();
    const error = errors[0]?.error as BeaconOmissionError;
    expect(errors).toHaveLength(1);
    expect(error.omitted.map((o) => [o.secret, o.field])).toEqual([
      [`S${BEACON_LIMITS.secrets}`, 'secrets'],
      [`S${BEACON_LIMITS.secrets + 1}`, 'secrets'],
    ]);
    expect(error.message).toContain(
      `"S${BEACON_LIMITS.secrets}": comes after the 1000 secrets a report may list (BEACON_LIMITS.secrets)`,
    );
    await clock.advance(2_000);
    expect(errors).toHaveLength(1);
  });
});
