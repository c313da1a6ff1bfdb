/** Waiting for the signal that ends a long-running command (`keyflip collector`, `keyflip emulator`). */

/** Resolves on the first SIGINT or SIGTERM; a second one then ends the process as it normally would. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
