/** `util.inspect`'s hook, without importing node:util. */
export const inspectSymbol: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never;

/** The only way a keyflip object shows itself: `[keyflip secret NAME kf_…]`. */
export function redactedLabel(kind: string, name: string, fingerprint: string | undefined): string {
  return `[keyflip ${kind} ${name} ${fingerprint ?? '(unresolved)'}]`;
}
