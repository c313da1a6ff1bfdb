/**
 * Dropped evidence: what the collector could not record — a report it refused (instance cap, memory budget), an
 * entry it had to shed (fingerprint cap, secrets per instance), the time it was not running — kept as spans of
 * its clock per reason, so `usage()` can say "evidence was dropped in your window" and `verifyRetired` answers
 * "cannot prove" instead of "clear".
 *
 * Bounded whatever happens: a drop close to the last span of its reason extends that span (a flood of refusals is
 * one span with a count), each log keeps at most {@link MAX_SPANS} spans (the two oldest of one reason are merged
 * beyond), and at most {@link MAX_SECRET_LOGS} secrets have a log of their own (a drop for one more secret is
 * recorded for every secret: conservative, never lost). Merging only widens a span backwards in time, which never
 * changes whether it overlaps a window that ends now.
 */
import type { DropReason, DroppedEvidence } from './types.js';

/** Spans kept per log; beyond, the two oldest spans of one reason are merged into one. */
export const MAX_SPANS = 32;
/** A drop at most this long after the last span of its reason extends that span instead of opening one, ms. */
export const MERGE_GAP_MS = 60_000;
/** Secrets with a log of their own; a drop for one more secret is recorded for every secret. */
export const MAX_SECRET_LOGS = 1_024;

const REASONS: readonly DropReason[] = [
  'instance-cap',
  'memory-budget',
  'fingerprint-cap',
  'evicted',
  'collector-down',
] as const;

/** The reasons a drop is recorded for, for checks of what a state file holds. */
export const DROP_REASONS: ReadonlySet<string> = new Set(REASONS);

type Span = { -readonly [K in keyof DroppedEvidence]: DroppedEvidence[K] };

/** The spans of dropped evidence of one scope (every secret, or one), ordered by their end. */
export class DropLog {
  readonly #spans: Span[] = [];

  /** Spans held. */
  get size(): number {
    return this.#spans.length;
  }

  /** Records `count` drops for `reason` from `from` to `to` (one drop: `from === to`). */
  add(reason: DropReason, from: number, to: number, count: number): void {
    const spans = this.#spans;
    let last: Span | undefined;
    for (let i = spans.length - 1; i >= 0 && last === undefined; i--) {
      if (spans[i]?.reason === reason) last = spans[i];
    }
    if (last !== undefined && from <= last.to + MERGE_GAP_MS && to >= last.from - MERGE_GAP_MS) {
      last.from = Math.min(last.from, from);
      last.to = Math.max(last.to, to);
      last.count += count;
    } else {
      spans.push({ reason, from, to, count });
    }
    spans.sort(byEnd);
    while (spans.length > MAX_SPANS) this.#mergeOldestPair();
  }

  /** The spans that overlap `[from, to]`, oldest end first (copies). */
  overlapping(from: number, to: number): DroppedEvidence[] {
    return this.#spans.filter((s) => s.to >= from && s.from <= to).map((s) => ({ ...s }));
  }

  /** Every span, oldest end first (copies). */
  spans(): DroppedEvidence[] {
    return this.#spans.map((s) => ({ ...s }));
  }

  /** Forgets the spans that ended before `cutoff`. */
  forgetBefore(cutoff: number): void {
    const kept = this.#spans.filter((s) => s.to >= cutoff);
    this.#spans.length = 0;
    this.#spans.push(...kept);
  }

  /** Merges the two oldest spans of the reason whose oldest span comes first among those with two or more. */
  #mergeOldestPair(): void {
    const spans = this.#spans;
    for (let i = 0; i < spans.length; i++) {
      const first = spans[i] as Span;
      const j = spans.findIndex((s, k) => k > i && s.reason === first.reason);
      if (j === -1) continue;
      const second = spans[j] as Span;
      second.from = Math.min(first.from, second.from);
      second.to = Math.max(first.to, second.to);
      second.count += first.count;
      spans.splice(i, 1);
      spans.sort(byEnd);
      return;
    }
    // Unreachable while MAX_SPANS exceeds the number of reasons: some reason has two spans.
    spans.shift();
  }
}

const byEnd = (a: Span, b: Span): number => a.to - b.to || a.from - b.from;

/** What a state file keeps of the dropped evidence. */
export interface DropsSnapshot {
  /** Spans that count for every secret. */
  readonly all: readonly DroppedEvidence[];
  /** Spans that count for one secret, by secret name. */
  readonly bySecret: readonly (readonly [string, readonly DroppedEvidence[]])[];
}

/** Every drop the collector recorded: those that count for every secret, and those of one secret. */
export class EvidenceDrops {
  readonly #all = new DropLog();
  readonly #bySecret = new Map<string, DropLog>();
  readonly #counts = new Map<DropReason, number>();

  /** Drops recorded since the collector was created, of every reason (a span of `count` drops counts `count`). */
  get total(): number {
    let total = 0;
    for (const n of this.#counts.values()) total += n;
    return total;
  }

  /** Drops recorded since the collector was created, by reason (every reason present, 0 when none). */
  counts(): Record<DropReason, number> {
    const counts = {} as Record<DropReason, number>;
    for (const reason of REASONS) counts[reason] = this.#counts.get(reason) ?? 0;
    return counts;
  }

  /** Records drops that may concern any secret (a refused report, the collector's downtime). */
  forEverySecret(reason: DropReason, from: number, to: number, count = 1): void {
    this.#count(reason, count);
    this.#all.add(reason, from, to, count);
  }

  /** Records a drop of evidence about `secret` only (an entry shed by a cap), at `at`. */
  forSecret(secret: string, reason: DropReason, at: number, count = 1): void {
    this.#count(reason, count);
    let log = this.#bySecret.get(secret);
    if (log === undefined) {
      if (this.#bySecret.size >= MAX_SECRET_LOGS) {
        this.#all.add(reason, at, at, count);
        return;
      }
      log = new DropLog();
      this.#bySecret.set(secret, log);
    }
    log.add(reason, at, at, count);
  }

  /** The spans that concern `secret` and overlap `[from, to]`: of every secret and of it, oldest end first. */
  affecting(secret: string, from: number, to: number): DroppedEvidence[] {
    const own = this.#bySecret.get(secret)?.overlapping(from, to) ?? [];
    return [...this.#all.overlapping(from, to), ...own].sort((a, b) => a.to - b.to || a.from - b.from);
  }

  /** Forgets the spans that ended before `cutoff` (no window reaches back that far). */
  forgetBefore(cutoff: number): void {
    this.#all.forgetBefore(cutoff);
    for (const [secret, log] of this.#bySecret) {
      log.forgetBefore(cutoff);
      if (log.size === 0) this.#bySecret.delete(secret);
    }
  }

  /** What a state file keeps. */
  snapshot(): DropsSnapshot {
    return {
      all: this.#all.spans(),
      bySecret: [...this.#bySecret].map(([secret, log]) => [secret, log.spans()] as const),
    };
  }

  /** Adds the spans of a state file (its counts do not add to this process's `counts()`). */
  restore(snapshot: DropsSnapshot): void {
    for (const s of snapshot.all) this.#all.add(s.reason, s.from, s.to, s.count);
    for (const [secret, spans] of snapshot.bySecret) {
      for (const s of spans) {
        let log = this.#bySecret.get(secret);
        if (log === undefined && this.#bySecret.size < MAX_SECRET_LOGS) {
          log = new DropLog();
          this.#bySecret.set(secret, log);
        }
        (log ?? this.#all).add(s.reason, s.from, s.to, s.count);
      }
    }
  }

  #count(reason: DropReason, count: number): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + count);
  }
}
