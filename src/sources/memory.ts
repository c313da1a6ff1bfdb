import { describeValue } from '../check.js';
import { type AbsentReason, ConfigurationError, SourceUnavailableError } from '../errors.js';
import type { FetchContext, Source, SourceRef, SourceResult } from '../types.js';

type VersionState = 'enabled' | 'disabled' | 'destroyed';

interface StoredVersion {
  value: string;
  state: VersionState;
}

/** Options of {@link memorySource}. */
export interface MemorySourceOptions {
  /**
   * The source's name, the prefix of its candidates.
   * @default 'memory'
   */
  name?: string | undefined;
}

/**
 * An in-memory secret store with numbered versions, for tests, demos and local development. Mirrors
 * a secret manager: each `set` adds a version; `latest` is the newest version whatever its state (a
 * disabled newest version makes the name absent, it does not fall back); `name@3` asks for version 3.
 * Every change notifies watchers, so a resolver picks it up at once.
 */
export interface MemorySource extends Source {
  /** Adds a new version of `name` and returns its number. */
  set(name: string, value: string): string;
  /** Removes `name` and every version of it. */
  delete(name: string): void;
  /** Disables a version (default: the newest); a disabled version is absent with reason `disabled`. */
  disable(name: string, version?: string): void;
  /** Enables a version again (default: the newest). */
  enable(name: string, version?: string): void;
  /** Destroys a version's value for good (default: the newest); it is absent with reason `destroyed`. */
  destroy(name: string, version?: string): void;
  /** Marks `name` as not readable by this process: it is absent with reason `permission-denied`. */
  deny(name: string, denied?: boolean): void;
  /**
   * Simulates an outage: while on, every fetch throws (the source is *unavailable*). With `hang`, every
   * fetch instead waits until its signal aborts.
   */
  outage(on: boolean, mode?: 'throw' | 'hang'): void;
  /** How many fetches this source has answered or failed. */
  readonly fetches: number;
}

/**
 * Creates a {@link MemorySource}, optionally seeded with one version per name.
 * @example memorySource({ OPENAI_API_KEY_v1: 'sk-…' })
 */
export function memorySource(initial: Record<string, string> = {}, options: MemorySourceOptions = {}): MemorySource {
  const sourceName = options.name ?? 'memory';
  const store = new Map<string, StoredVersion[]>();
  const denied = new Set<string>();
  const watchers = new Map<string, Set<() => void>>();
  let outage: 'throw' | 'hang' | undefined;
  let fetches = 0;

  const notify = (name: string): void => {
    const set = watchers.get(name);
    if (!set) return;
    for (const callback of [...set]) queueMicrotask(callback);
  };
  const pick = (name: string, version: string | undefined): StoredVersion => {
    const versions = store.get(name);
    if (!versions || versions.length === 0) throw new ConfigurationError(`memory source: no secret named ${name}`);
    const index = version === undefined || version === 'latest' ? versions.length - 1 : Number(version) - 1;
    const found = versions[index];
    if (!found) throw new ConfigurationError(`memory source: secret ${name} has no version ${version}`);
    return found;
  };
  const setState = (name: string, version: string | undefined, state: VersionState): void => {
    const stored = pick(name, version);
    if (stored.state === 'destroyed')
      throw new ConfigurationError(`memory source: version ${version ?? 'latest'} of ${name} is destroyed`);
    stored.state = state;
    if (state === 'destroyed') stored.value = '';
    notify(name);
  };

  for (const [name, value] of Object.entries(initial)) store.set(name, [{ value, state: 'enabled' }]);

  return {
    name: sourceName,
    get fetches() {
      return fetches;
    },
    async fetch(ref: SourceRef, ctx: FetchContext): Promise<SourceResult> {
      fetches++;
      if (outage === 'throw') {
        // Stands for a network failure: a source reports being unavailable by throwing.
        throw new SourceUnavailableError(`memory source ${sourceName} is in a simulated outage`, {
          source: sourceName,
        });
      }
      if (outage === 'hang') {
        return new Promise((_, reject) => {
          const abort = (): void =>
            reject(ctx.signal.reason ?? new SourceUnavailableError('aborted', { source: sourceName }));
          if (ctx.signal.aborted) abort();
          else ctx.signal.addEventListener('abort', abort, { once: true });
        });
      }
      if (denied.has(ref.name)) return absent('permission-denied');
      const versions = store.get(ref.name);
      if (!versions || versions.length === 0) return absent('not-found');
      const index =
        ref.version === undefined || ref.version === 'latest' ? versions.length - 1 : Number(ref.version) - 1;
      const stored = versions[index];
      if (!stored) return absent('not-found');
      if (stored.state !== 'enabled') return absent(stored.state);
      return { status: 'found', value: stored.value, version: String(index + 1) };
    },
    validate(ref: SourceRef): string | undefined {
      if (ref.version === undefined || ref.version === 'latest' || /^[1-9][0-9]*$/.test(ref.version)) return undefined;
      return `versions are numbers or "latest", not ${JSON.stringify(ref.version)}`;
    },
    watch(ref: SourceRef, onChange: () => void): () => void {
      let set = watchers.get(ref.name);
      if (!set) {
        set = new Set();
        watchers.set(ref.name, set);
      }
      const subscribed = set;
      subscribed.add(onChange);
      return () => subscribed.delete(onChange);
    },
    set(name: string, value: string): string {
      if (typeof value !== 'string') {
        throw new ConfigurationError(
          `memory source: the value of ${name} must be a string, not ${describeValue(value)}`,
        );
      }
      let versions = store.get(name);
      if (!versions) {
        versions = [];
        store.set(name, versions);
      }
      versions.push({ value, state: 'enabled' });
      notify(name);
      return String(versions.length);
    },
    delete(name: string): void {
      store.delete(name);
      notify(name);
    },
    disable: (name, version) => setState(name, version, 'disabled'),
    enable: (name, version) => setState(name, version, 'enabled'),
    destroy: (name, version) => setState(name, version, 'destroyed'),
    deny(name: string, on = true): void {
      if (on) denied.add(name);
      else denied.delete(name);
      notify(name);
    },
    outage(on: boolean, mode: 'throw' | 'hang' = 'throw'): void {
      outage = on ? mode : undefined;
      if (!on) for (const name of watchers.keys()) notify(name);
    },
    async close(): Promise<void> {
      watchers.clear();
    },
  };
}

function absent(reason: AbsentReason): SourceResult {
  return { status: 'absent', reason };
}
