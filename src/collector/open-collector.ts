/**
 * `openCollector`: a collector whose evidence survives a restart. It loads its state file when there is one (see
 * state-file.ts), records the time it was down — from the file's last save to now — as `collector-down` dropped
 * evidence for every secret, and saves atomically every `saveEveryMs` and on `close()`.
 *
 * So after a restart the collector still knows who held which key (positive evidence is kept, and `verify`
 * answers "in use" from it), while "clear" waits until the downtime has left the window.
 */
import { positiveMs } from '../check.js';
import { ConfigurationError, KeyflipError } from '../errors.js';
import type { TimerHandle } from '../types.js';
import {
  type Collector,
  type CollectorClock,
  type CollectorOptions,
  type CollectorParts,
  type CollectorPersistence,
  collectorOver,
  collectorParts,
  type StateFileStats,
} from './collector.js';
import { collectorLimits } from './limits.js';
import { errorCode, loadState, removeLeftovers, saveState } from './state-file.js';

/** Options of {@link openCollector}: those of `createCollector`, and the state file. */
export interface OpenCollectorOptions extends CollectorOptions {
  /**
   * The state file (created when missing; its directory must exist and be writable). It holds fingerprints and
   * metadata only, never a secret value, and is written with mode 0600.
   */
  statePath: string;
  /**
   * How often the state is saved, ms (at least 1 000). Whatever was reported since the last save is what a crash
   * loses, and it is recorded as dropped on the next start.
   * @default 10_000
   */
  saveEveryMs?: number | undefined;
}

/**
 * Opens a collector backed by a state file: loads it when it exists, saves once at once (so a path that cannot be
 * written fails here), then every `saveEveryMs` (an unref'd timer: it never keeps the process alive) and on
 * `close()`. Rejects with a `ConfigurationError` naming the path when the file cannot be read or written, is not a
 * keyflip collector state file, or is damaged — it never starts empty over a file it cannot read.
 *
 * @example
 * const collector = await openCollector({ statePath: '/var/lib/keyflip/collector.state' });
 * const server = await startCollectorServer({ collector, token });
 * // on shutdown:
 * await server.close();
 * await collector.close();   // the last save
 */
export async function openCollector(options: OpenCollectorOptions): Promise<Collector> {
  const statePath = options?.statePath;
  if (typeof statePath !== 'string' || statePath.length === 0)
    throw new ConfigurationError('openCollector: `statePath` must be the path of the state file');
  const saveEveryMs = positiveMs('openCollector: saveEveryMs', options.saveEveryMs, 10_000);
  if (saveEveryMs < 1_000)
    throw new ConfigurationError(`openCollector: \`saveEveryMs\` must be at least 1000, not ${saveEveryMs}`);
  const limits = collectorLimits(options);
  const clock = options.clock ?? Date;
  const now = clock.now();
  const parts = collectorParts(limits, now);
  await removeLeftovers(statePath);
  const header = await loadState(statePath, parts, now);
  const observedSince = header === undefined ? now : Math.min(header.observedSince, now);
  if (header !== undefined) parts.drops.forEverySecret('collector-down', Math.min(header.savedAt, now), now);
  parts.retention.sweep(now);
  const saver = new StateSaver(statePath, parts, clock, saveEveryMs, observedSince);
  try {
    await saver.save();
  } catch (error) {
    throw new ConfigurationError(
      `openCollector: cannot write the state file ${statePath} (${errorCode(error)})`,
      undefined,
      { cause: error },
    );
  }
  saver.start();
  return collectorOver(parts, clock, { startedAt: now, observedSince }, saver);
}

/** Saves the state: one save at a time, every `saveEveryMs` after the last one ended, and a last one on close. */
class StateSaver implements CollectorPersistence {
  readonly #path: string;
  readonly #parts: CollectorParts;
  readonly #clock: CollectorClock;
  readonly #everyMs: number;
  readonly #observedSince: number;
  #timer: TimerHandle | undefined;
  #saving: Promise<void> | undefined;
  #closed = false;
  #saves = 0;
  #failures = 0;
  #lastSavedAt: number | undefined;
  #lastError: string | undefined;

  constructor(path: string, parts: CollectorParts, clock: CollectorClock, everyMs: number, observedSince: number) {
    this.#path = path;
    this.#parts = parts;
    this.#clock = clock;
    this.#everyMs = everyMs;
    this.#observedSince = observedSince;
  }

  stats(): StateFileStats {
    const stats: { -readonly [K in keyof StateFileStats]: StateFileStats[K] } = {
      path: this.#path,
      saves: this.#saves,
      failures: this.#failures,
    };
    if (this.#lastSavedAt !== undefined) stats.lastSavedAt = this.#lastSavedAt;
    if (this.#lastError !== undefined) stats.lastError = this.#lastError;
    return stats;
  }

  /** Saves now, after the save in progress (if any); rejects with the file system's error. */
  save(): Promise<void> {
    const run = async (): Promise<void> => {
      const savedAt = this.#clock.now();
      try {
        await saveState(this.#path, this.#parts, { savedAt, observedSince: this.#observedSince });
      } catch (error) {
        this.#failures++;
        this.#lastError = `${errorCode(error)} writing ${this.#path}`;
        throw error;
      }
      this.#saves++;
      this.#lastSavedAt = savedAt;
      this.#lastError = undefined;
    };
    const next = (this.#saving ?? Promise.resolve()).then(run, run);
    this.#saving = next;
    const clear = (): void => {
      if (this.#saving === next) this.#saving = undefined;
    };
    next.then(clear, clear);
    return next;
  }

  /** Starts the periodic saves. */
  start(): void {
    if (this.#closed) return;
    const tick = (): void => {
      this.#timer = undefined;
      // A failed save is counted in `collector.stats.state`; the next one is tried all the same.
      this.save()
        .catch(() => undefined)
        .finally(() => this.start());
    };
    const clock = this.#clock;
    const handle =
      clock.setTimeout !== undefined && clock.clearTimeout !== undefined
        ? clock.setTimeout(tick, this.#everyMs)
        : setTimeout(tick, this.#everyMs);
    (handle as { unref?: () => unknown } | undefined)?.unref?.();
    this.#timer = handle;
  }

  /** Stops the periodic saves and saves a last time; rejects (`STATE_FILE`) when that save fails. */
  async close(): Promise<void> {
    this.#closed = true;
    const timer = this.#timer;
    this.#timer = undefined;
    if (timer !== undefined) {
      const clock = this.#clock;
      if (clock.setTimeout !== undefined && clock.clearTimeout !== undefined) clock.clearTimeout(timer);
      else clearTimeout(timer as ReturnType<typeof setTimeout>);
    }
    try {
      await this.save();
    } catch (error) {
      throw new KeyflipError(
        'STATE_FILE',
        `the collector could not save its state to ${this.#path} on close (${errorCode(error)})`,
        { cause: error },
      );
    }
  }
}
