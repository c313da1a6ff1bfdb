/**
 * The one skeleton every rotation command runs:
 *
 *   read the ring → the gates → plan the writes → dry run, or execute the plan and read the ring again → result
 *
 * A command supplies only what is its own, as a {@link StepDefinition} built from the ring it was given: its
 * safety gates (small functions; the first that answers ends the command before any write), its writes (added
 * to a {@link WritePlan}) and what it reports. The skeleton owns the rest: the dry run (the plan, not run), the
 * execution (a write that fails is an `INTERRUPTED` error naming it; running the command again continues from
 * the state it left), the second read, and the shape of the result.
 */
import { layoutOf, ringOptionsOf } from './context.js';
import { readRing, type KeyRing } from './key-ring.js';
import { article } from './records.js';
import type { RefusalCode, RotateCommand, RotationContext, RotationResult } from './types.js';
import { resultOf, type ResultExtra } from './views.js';
import { WritePlan } from './write-plan.js';

/**
 * A gate's answer, which ends the command before any write:
 * - `refused`: a safety gate said no (`refusal` says which).
 * - `already-done`: the state is already what the command makes.
 * - `done`: the command's whole answer, for a command that makes no write (`status`).
 */
export type Verdict =
  | {
      readonly outcome: 'refused';
      readonly refusal: RefusalCode;
      readonly message: string;
      readonly extra?: ResultExtra | undefined;
    }
  | { readonly outcome: 'already-done' | 'done'; readonly message: string; readonly extra?: ResultExtra | undefined };

/** A safety gate: a {@link Verdict} ends the command; `undefined` lets it go on to the next gate. */
export type Gate = () => Verdict | undefined | Promise<Verdict | undefined>;

/** What a command reports about its writes, made or planned. */
export interface StepReport {
  /** The message of a dry run. */
  readonly planned: string;
  /** The message once the writes are made; `after` is the ring read again. */
  readonly done: (after: KeyRing) => string;
  /**
   * The check whose answer the command records said no (probe: the provider refused the key; verify: an old
   * key is still in use): the outcome is `failed` instead of `planned` or `done`. @default false
   */
  readonly failed?: boolean | undefined;
  /** Notes, the probe's answer, the verifications: in the result whether the writes ran or not. */
  readonly extra?: ResultExtra | undefined;
}

/** A command that writes: its gates, then its writes and what it reports. */
export interface WritingStep {
  /** Run in order. @default none */
  readonly gates?: readonly Gate[] | undefined;
  /** Adds the command's writes to `writes`, in the order they must run, and says what to report. */
  readonly plan: (writes: WritePlan) => StepReport | Promise<StepReport>;
}

/** A command that makes no write (`status`): its gates, then its answer. */
export interface ReadingStep {
  /** Run in order. @default none */
  readonly gates?: readonly Gate[] | undefined;
  readonly answer: () => Verdict | Promise<Verdict>;
}

/** One command's part of the skeleton. */
export type StepDefinition = WritingStep | ReadingStep;

/** Runs `command` on the ring of `ctx.name`: the command's part is `define(ring)`. */
export async function runStep(
  ctx: RotationContext,
  command: RotateCommand,
  define: (ring: KeyRing) => StepDefinition,
): Promise<RotationResult> {
  const layout = await layoutOf(ctx);
  const ring = await readRing(ctx.admin, ctx.name, layout, ringOptionsOf(ctx));
  const step = define(ring);
  for (const gate of step.gates ?? []) {
    const verdict = await gate();
    if (verdict !== undefined) return verdictResult(ring, command, verdict);
  }
  if ('answer' in step) return verdictResult(ring, command, await step.answer());
  const writes = new WritePlan();
  const report = await step.plan(writes);
  if (ctx.dryRun) {
    return resultOf(ring, command, report.failed ? 'failed' : 'planned', report.planned, {
      ...report.extra,
      steps: writes.steps(),
    });
  }
  await writes.execute(command, ctx.name);
  const after = await readRing(ctx.admin, ctx.name, layout, ringOptionsOf(ctx));
  return resultOf(after, command, report.failed ? 'failed' : 'done', report.done(after), {
    ...report.extra,
    steps: writes.steps(),
  });
}

function verdictResult(ring: KeyRing, command: RotateCommand, verdict: Verdict): RotationResult {
  const extra = verdict.outcome === 'refused' ? { ...verdict.extra, refusal: verdict.refusal } : verdict.extra;
  return resultOf(ring, command, verdict.outcome, verdict.message, extra);
}

/** A gate's refusal. */
export const refuse = (refusal: RefusalCode, message: string, extra?: ResultExtra): Verdict => ({
  outcome: 'refused',
  refusal,
  message,
  extra,
});

/** A gate's answer that there is nothing to do. */
export const alreadyDone = (message: string, extra?: ResultExtra): Verdict => ({
  outcome: 'already-done',
  message,
  extra,
});

/** The whole answer of a command that makes no write. */
export const answered = (message: string, extra?: ResultExtra): Verdict => ({ outcome: 'done', message, extra });

/**
 * The gate of every step but provision, emergency and discard: refused while a provision or an emergency
 * stopped part-way (it must be finished, or discarded, first).
 */
export function noStoppedSequence(ring: KeyRing): Gate {
  return () =>
    ring.pending
      ? refuse(
          'pending',
          `${article(ring.pending.record.op)} stopped part-way: ` +
            'finish it (run it again with the same key) or discard it first',
        )
      : undefined;
}

/** A read made at most once per run, when a gate or the plan first needs it (and never when none does). */
export function once<T>(read: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= read();
    return value;
  };
}
