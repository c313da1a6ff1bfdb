/**
 * A command's writes as an ordered plan: described first (a dry run prints the descriptions), then run
 * one by one. A write that fails stops the plan with an `INTERRUPTED` error saying which write it was and
 * what ran before it; every command is written so that running it again continues from there.
 */
import { RotationError } from './errors.js';

export interface PlannedWrite {
  readonly description: string;
  readonly run: () => Promise<void>;
}

export class Plan {
  readonly writes: PlannedWrite[] = [];
  private ran = 0;

  add(description: string, run: () => Promise<void>): this {
    this.writes.push({ description, run });
    return this;
  }

  get size(): number {
    return this.writes.length;
  }

  /** The writes with whether each one ran. */
  steps(): { description: string; done: boolean }[] {
    return this.writes.map((w, i) => ({ description: w.description, done: i < this.ran }));
  }

  async execute(command: string, secret: string): Promise<void> {
    for (const [i, write] of this.writes.entries()) {
      try {
        await write.run();
      } catch (error) {
        const made =
          i === 0
            ? 'no write before it was made'
            : i === 1
              ? 'the write before it was made'
              : `the ${i} writes before it were made`;
        const before = `${made} (this one may have been, if only its answer was lost)`;
        const detail = (error instanceof Error ? error.message : String(error)).replace(/\.+$/, '');
        throw new RotationError(
          'INTERRUPTED',
          `rotate ${command} ${secret} stopped at write ${i + 1} of ${this.writes.length} (${write.description}): ${detail}. ` +
            `${before[0]?.toUpperCase()}${before.slice(1)}; \`keyflip rotate status ${secret}\` shows the state, and running the same command again continues from it.`,
          { cause: error },
        );
      }
      this.ran = i + 1;
    }
  }
}
