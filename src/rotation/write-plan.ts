/**
 * A command's writes as an ordered plan: described first (a dry run prints the descriptions), then run
 * one by one. A write that fails stops the plan with an `INTERRUPTED` error saying which write it was and
 * what ran before it; every command is written so that running it again continues from there.
 */
import { RotationError } from './errors.js';

/** One write of a plan: what it does, for people, and the call that does it. */
export interface PlannedWrite {
  readonly description: string;
  readonly run: () => Promise<void>;
}

/** A write of a plan as a result reports it: made (`done: true`) or only planned. */
export interface WriteStep {
  readonly description: string;
  readonly done: boolean;
}

export class WritePlan {
  readonly #writes: PlannedWrite[] = [];
  #ran = 0;

  /** Appends a write. */
  add(description: string, run: () => Promise<void>): this {
    this.#writes.push({ description, run });
    return this;
  }

  /** How many writes the plan holds. */
  get size(): number {
    return this.#writes.length;
  }

  /** The writes with whether each one ran. */
  steps(): WriteStep[] {
    return this.#writes.map((w, i) => ({ description: w.description, done: i < this.#ran }));
  }

  /** Runs the writes in order; the first that fails stops the plan with an `INTERRUPTED` error. */
  async execute(command: string, secret: string): Promise<void> {
    const total = this.#writes.length;
    for (const [i, write] of this.#writes.entries()) {
      try {
        await write.run();
      } catch (error) {
        throw interrupted(command, secret, i, total, write.description, error);
      }
      this.#ran = i + 1;
    }
  }
}

/** The error of write `i` (0-based) of `total` failing: which write, what ran before it, what to do. */
function interrupted(
  command: string,
  secret: string,
  i: number,
  total: number,
  description: string,
  error: unknown,
): RotationError {
  const made =
    i === 0
      ? 'No write before it was made'
      : i === 1
        ? 'The write before it was made'
        : `The ${i} writes before it were made`;
  const detail = (error instanceof Error ? error.message : String(error)).replace(/\.+$/, '');
  return new RotationError(
    'INTERRUPTED',
    `rotate ${command} ${secret} stopped at write ${i + 1} of ${total} (${description}): ${detail}. ` +
      `${made} (this one may have been, if only its answer was lost); \`keyflip rotate status ${secret}\` ` +
      'shows the state, and running the same command again continues from it.',
    { cause: error, secret },
  );
}
