/**
 * The two ways a rotated secret's keys are laid out in Secret Manager, the names they give, and which one a
 * command works in:
 *
 * - `suffix`: one secret per key, `NAME_v1`, `NAME_v2`, …; apps declare `NAME_v2 ?? NAME_v1`.
 * - `alias`: one secret `NAME`, a key per version; apps declare `NAME@current ?? NAME@previous`.
 *
 * The layout is recorded on the secrets (the `keyflip-layout` label) by the first command that writes.
 */
import { describeValue } from '../check.js';
import { ConfigurationError } from '../errors.js';
import type { SecretAdmin } from './admin.js';
import { RotationError } from './errors.js';
import { ANNOTATION, LABEL } from './records.js';

/** The two layouts: `suffix` (`NAME_v1`, `NAME_v2`, …) and `alias` (`NAME@current`, `NAME@previous`). */
export const LAYOUTS = ['suffix', 'alias'] as const;
/** How a rotated secret's keys are laid out in Secret Manager (see {@link LAYOUTS}). */
export type Layout = (typeof LAYOUTS)[number];

/** The name being rotated: a secret id, and in the suffix layout not itself ending in `_vN`. */
const NAME = /^[A-Za-z0-9_-]{1,240}$/;

/** Throws `INVALID_INPUT` unless `name` can be rotated in `layout`. */
export function checkName(name: string, layout: Layout): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new RotationError('INVALID_INPUT', 'SECRET must be a secret id (1 to 240 letters, digits, "_" and "-")');
  }
  if (layout === 'suffix' && /_v\d+$/.test(name)) {
    throw new RotationError(
      'INVALID_INPUT',
      `${name} already ends in _vN: give the name without it (${name.replace(/_v\d+$/, '')}); keyflip adds the suffix`,
    );
  }
}

/** The secret id of key `n` in the suffix layout: `NAME_v3`. */
export const suffixId = (name: string, n: number): string => `${name}_v${n}`;

/** The highest N among the ring's `NAME_vN` secrets (0 when there is none; the alias layout has none). */
export function highestSlot(ring: { readonly secrets: ReadonlyMap<string, unknown> }): number {
  let top = 0;
  for (const id of ring.secrets.keys()) top = Math.max(top, Number(/_v(\d+)$/.exec(id)?.[1] ?? 0));
  return top;
}

/** The layout recorded on the ring's secrets (the `keyflip-layout` label), if any. */
export async function recordedLayout(admin: SecretAdmin, name: string): Promise<Layout | undefined> {
  const alias = await admin.getSecret(name);
  if (alias?.labels[LABEL.layout] === 'alias') return 'alias';
  if (alias?.labels[LABEL.layout] === 'suffix') return 'suffix';
  const suffix = await admin.listSecrets(`labels.${LABEL.layout}=suffix AND name:${name}_v`);
  if (suffix.some((s) => s.annotations[ANNOTATION.name] === name)) return 'suffix';
  return undefined;
}

/**
 * The layout a command on `secret` works in: `requested` (`--layout`), else the one recorded on the secret,
 * else `suffix`. Throws `INVALID_INPUT` when `requested` contradicts the recorded layout (a command in the
 * other layout would start a second ring beside the first), and a `ConfigurationError` when it is not a layout.
 */
export async function chooseLayout(admin: SecretAdmin, secret: string, requested: Layout | undefined): Promise<Layout> {
  if (requested !== undefined && !(LAYOUTS as readonly unknown[]).includes(requested)) {
    throw new ConfigurationError(`the layout must be ${LAYOUTS.join(' or ')}, not ${describeValue(requested)}`);
  }
  const recorded = await recordedLayout(admin, secret);
  if (requested !== undefined && recorded !== undefined && requested !== recorded) {
    throw new RotationError(
      'INVALID_INPUT',
      `${secret} is managed in the ${recorded} layout (its keyflip-layout label); --layout ${requested} does not match`,
      { secret },
    );
  }
  return requested ?? recorded ?? 'suffix';
}
