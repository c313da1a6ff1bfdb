/** The drill's options, their defaults, and the checks that refuse a drill that cannot run. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BEACON_LIMITS } from '../src/beacon/index.js';
import { ROOT } from './constants.js';

/** The layouts the drill rotates in (the library's `LAYOUTS`): `pair` is the default. */
export type Layout = 'pair' | 'suffix' | 'alias';
const LAYOUTS: readonly Layout[] = ['pair', 'suffix', 'alias'];

/**
 * The keys a drill is given: v1 is live at first, v2 replaces it (the first normal rotation), v4 is the
 * emergency's. v3 is not given: `rotate auto` mints it at the provider (the mock's management API) and stores it
 * straight in Secret Manager.
 */
export interface DrillKeys {
  readonly v1: string;
  readonly v2: string;
  readonly v4: string;
}

export interface DrillOptions {
  /** Live worker processes (the stale one comes on top). @default 16 */
  workers?: number | undefined;
  /** Requests per second per worker. @default 20 */
  rate?: number | undefined;
  /**
   * The layout, and with it the chain the live workers declare for the whole drill: `pair` (`NAME_v2 ?? NAME_v1`),
   * `suffix` (legacy: `NAME_v4 ?? NAME_v3 ?? NAME_v2 ?? NAME_v1`, declared ahead) or `alias`
   * (`NAME@current ?? NAME@previous`). @default 'pair'
   */
  layout?: Layout | undefined;
  /** The workers' `refreshMs`. @default 2_000 */
  refreshMs?: number | undefined;
  /** The workers' `jitter`. @default 0.2 */
  jitter?: number | undefined;
  /** The beacon's `intervalMs`, at least `BEACON_LIMITS.intervalMs.min` (1 s). @default 1_000 */
  beaconMs?: number | undefined;
  /**
   * The verify / revoke `--window`, at least twice `beaconMs` (a shorter window proves nothing: verify would
   * answer "cannot prove"). After the collector's restart verify cannot prove anything for the window plus one
   * beacon interval: the first `rotate verify` must answer within that, to show it. @default 5_000
   */
  windowMs?: number | undefined;
  /**
   * The mock provider's reporting lag: its usage data shows a request this long after it was served, and the
   * commands are told so (`--provider-lag`). verify passes once the window plus the lag has passed. @default 2_000
   */
  lagMs?: number | undefined;
  /** How often the straggler (no keyflip, no beacon) sends a request. @default 2_000 */
  stragglerEveryMs?: number | undefined;
  /**
   * How long each steady phase lasts (v1 before the first rotation, v2 before the second, v3 before the emergency,
   * v4 after it). @default 2_000
   */
  steadyMs?: number | undefined;
  /**
   * How the `keyflip rotate` commands run: `tsx` (`node --import tsx src/cli/index.ts`) or `dist`
   * (`node dist/cli/index.js`, after `npm run build`). @default 'tsx'
   */
  cli?: 'tsx' | 'dist' | undefined;
  /** Worker processes starting at once. @default 4 */
  startConcurrency?: number | undefined;
  /**
   * Whether the time bound (the refresh that switched each worker to the new key started within refresh × (1 +
   * jitter) + 250 ms of each flip) decides `ok`. The test turns it off: on a loaded CI machine it asserts
   * properties, never durations. @default true
   */
  enforceTimeBounds?: boolean | undefined;
  /** Progress lines, as they happen. @default none */
  log?: ((line: string) => void) | undefined;
  /**
   * Everything any process printed (the commands' and workers' stdout and stderr) and every log line, as it
   * comes.
   */
  output?: ((text: string) => void) | undefined;
  /**
   * The keys given (a test passes its own, to search the output for them; v3 is minted).
   * @default random keys in OpenAI's format
   */
  keys?: DrillKeys | undefined;
  /**
   * The admin key of the mock provider's management API (a test passes its own, to search the output for it).
   * @default a random `sk-admin-…` key
   */
  adminKey?: string | undefined;
  /** Stops the drill early (Ctrl-C): the step under way is cut short, then everything is stopped as at the end. */
  signal?: AbortSignal | undefined;
}

/** The options as the drill ran them: every one set. */
export type DrillSettings = {
  -readonly [K in Exclude<keyof DrillOptions, 'log' | 'output' | 'keys' | 'adminKey' | 'signal'>]-?: Exclude<
    DrillOptions[K],
    undefined
  >;
};

/** The options with their defaults; throws when they make no sense, or `cli: 'dist'` has no build to run. */
export function drillSettings(options: DrillOptions): DrillSettings {
  const o: DrillSettings = {
    workers: options.workers ?? 16,
    rate: options.rate ?? 20,
    layout: options.layout ?? 'pair',
    refreshMs: options.refreshMs ?? 2_000,
    jitter: options.jitter ?? 0.2,
    beaconMs: options.beaconMs ?? 1_000,
    windowMs: options.windowMs ?? 5_000,
    lagMs: options.lagMs ?? 2_000,
    stragglerEveryMs: options.stragglerEveryMs ?? 2_000,
    steadyMs: options.steadyMs ?? 2_000,
    cli: options.cli ?? 'tsx',
    startConcurrency: options.startConcurrency ?? 4,
    enforceTimeBounds: options.enforceTimeBounds ?? true,
  };
  if (!Number.isInteger(o.workers) || o.workers < 1) throw new RangeError('workers must be a whole number ≥ 1');
  if (!(o.rate > 0) || !(o.refreshMs > 0) || !(o.beaconMs > 0) || !(o.windowMs > 0) || !(o.steadyMs >= 0))
    throw new RangeError('rate, refresh, beacon and window must be > 0');
  if (!(o.lagMs >= 0) || !(o.stragglerEveryMs >= 100))
    throw new RangeError('lag must be ≥ 0 and the straggler’s interval at least 100 ms');
  if (o.beaconMs < BEACON_LIMITS.intervalMs.min)
    throw new RangeError(`beacon must be at least ${BEACON_LIMITS.intervalMs.min} ms (BEACON_LIMITS.intervalMs)`);
  if (o.windowMs < 2 * o.beaconMs)
    throw new RangeError('window must be at least twice the beacon interval: a shorter one proves nothing');
  if (!LAYOUTS.includes(o.layout)) throw new RangeError(`layout is ${LAYOUTS.join(', ')}`);
  if (o.cli === 'dist') {
    const built = join(ROOT, 'dist/cli/index.js');
    if (!existsSync(built) || !readFileSync(built, 'utf8').includes('rotate'))
      throw new Error('--cli dist needs a build that has `keyflip rotate`: run npm run build first');
  }
  return o;
}

/** The node arguments that run the keyflip CLI, before its own. */
export function cliArgs(settings: DrillSettings): string[] {
  return settings.cli === 'tsx'
    ? ['--import', 'tsx', join(ROOT, 'src/cli/index.ts')]
    : [join(ROOT, 'dist/cli/index.js')];
}
