/**
 * The three ways a rotated secret's keys are laid out in Secret Manager, the names they give, and which one a
 * command works in:
 *
 * - `pair` (the default): `NAME_v2` holds the current key (its latest version), `NAME_v1` the previous one; apps
 *   declare exactly `NAME_v2 ?? NAME_v1`, forever: a rotation adds versions, never a name.
 * - `suffix` (legacy): one secret per key, `NAME_v1`, `NAME_v2`, `NAME_v3`, …; apps declare names ahead
 *   (`NAME_v3 ?? NAME_v2 ?? NAME_v1`). `keyflip rotate migrate` moves a ring to `pair`.
 * - `alias`: one secret `NAME`, a key per version; apps declare `NAME@current ?? NAME@previous`.
 *
 * `pair` and `suffix` stage a new key in `NAME_next`, a secret no app declares. The layout is recorded on the
 * secrets (the `keyflip-layout` label) by the first command that writes.
 */
import { describeValue } from '../check.js';
import { ConfigurationError } from '../errors.js';
import type { SecretAdmin } from './admin.js';
import { RotationError } from './errors.js';
import { ANNOTATION, LABEL } from './records.js';

/**
 * The layouts: `pair` (`NAME_v2 ?? NAME_v1`, the default), `suffix` (`NAME_v1`, `NAME_v2`, `NAME_v3`, …: legacy)
 * and `alias` (`NAME@current ?? NAME@previous`).
 */
export const LAYOUTS = ['pair', 'suffix', 'alias'] as const;
/** How a rotated secret's keys are laid out in Secret Manager (see {@link LAYOUTS}). */
export type Layout = (typeof LAYOUTS)[number];

/** The name being rotated: a secret id, and in the pair and suffix layouts not itself ending in `_vN`. */
const NAME = /^[A-Za-z0-9_-]{1,240}$/;

/** Throws `INVALID_INPUT` unless `name` can be rotated in `layout`. */
export function checkName(name: string, layout: Layout): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new RotationError('INVALID_INPUT', 'SECRET must be a secret id (1 to 240 letters, digits, "_" and "-")');
  }
  if (layout !== 'alias' && /_v\d+$/.test(name)) {
    throw new RotationError(
      'INVALID_INPUT',
      `${name} already ends in _vN: give the name without it (${name.replace(/_v\d+$/, '')}); keyflip adds the suffix`,
    );
  }
}

/** The secret id of key `n` in the suffix layout: `NAME_v3` (in the pair layout, 2 is current and 1 previous). */
export const suffixId = (name: string, n: number): string => `${name}_v${n}`;

/** The secret a new key is staged in (pair and suffix layouts): `NAME_next`, which no app declares. */
export const stagingId = (name: string): string => `${name}_next`;

/** The pair layout's two names: `current` (`NAME_v2`, read first) and `previous` (`NAME_v1`). */
export function pairIds(name: string): { readonly current: string; readonly previous: string } {
  return { current: suffixId(name, 2), previous: suffixId(name, 1) };
}

/** The chain an app declares for `name` in `layout` (for the suffix layout, up to the highest name `top`). */
export function declaredChain(name: string, layout: Layout, top = 2): string {
  if (layout === 'alias') return `${name}@current ?? ${name}@previous`;
  if (layout === 'pair') return `${name}_v2 ?? ${name}_v1`;
  const names: string[] = [];
  for (let n = Math.max(top, 2); n >= 1; n--) names.push(suffixId(name, n));
  return names.join(' ?? ');
}

/** The highest N among the ring's `NAME_vN` secrets (0 when there is none; the alias layout has none). */
export function highestSlot(ring: { readonly secrets: ReadonlyMap<string, unknown> }): number {
  let top = 0;
  for (const id of ring.secrets.keys()) top = Math.max(top, Number(/_v(\d+)$/.exec(id)?.[1] ?? 0));
  return top;
}

/** The layout recorded on the ring's secrets (the `keyflip-layout` label), if any. */
export async function recordedLayout(admin: SecretAdmin, name: string): Promise<Layout | undefined> {
  const alias = await admin.getSecret(name);
  const label = alias?.labels[LABEL.layout];
  if (label === 'alias' || label === 'suffix' || label === 'pair') return label;
  return (await ringSecrets(admin, name)).recorded;
}

/** The ring's `NAME_vN` and `NAME_next` secrets: the layout their labels record, the highest N. */
async function ringSecrets(admin: SecretAdmin, name: string): Promise<{ recorded: Layout | undefined; top: number }> {
  const ids = new RegExp(`^${name.replace(/-/g, '\\-')}_(v[1-9]\\d{0,8}|next)$`);
  const secrets = (await admin.listSecrets(`name:${name}_`)).filter((s) => ids.test(s.id));
  const labelled = secrets.filter((s) => s.annotations[ANNOTATION.name] === name).map((s) => s.labels[LABEL.layout]);
  const recorded = (['pair', 'suffix', 'alias'] as const).find((l) => labelled.includes(l));
  return { recorded, top: highestSlot({ secrets: new Map(secrets.map((s) => [s.id, s])) }) };
}

/**
 * The layout a command on `secret` works in: `requested` (`--layout`), else the one recorded on the secret,
 * else, for a ring keyflip never labelled, `alias` when `NAME` has an alias `current`, `suffix` when it has a
 * `NAME_v3` (a legacy ring: its apps declare names ahead), else `pair` (a ring seeded as `NAME_v1` alone is a
 * pair ring whose `NAME_v2` does not exist yet).
 * Throws `INVALID_INPUT` when `requested` contradicts the recorded layout (a command in the other layout would
 * start a second ring beside the first), and a `ConfigurationError` when it is not a layout.
 */
export async function chooseLayout(admin: SecretAdmin, secret: string, requested: Layout | undefined): Promise<Layout> {
  if (requested !== undefined && !(LAYOUTS as readonly unknown[]).includes(requested)) {
    throw new ConfigurationError(`the layout must be ${LAYOUTS.join(', ')}, not ${describeValue(requested)}`);
  }
  const alias = await admin.getSecret(secret);
  const label = alias?.labels[LABEL.layout];
  const { recorded, top } =
    label === 'alias' || label === 'suffix' || label === 'pair'
      ? { recorded: label as Layout, top: 0 }
      : await ringSecrets(admin, secret);
  if (requested !== undefined && recorded !== undefined && requested !== recorded) {
    throw new RotationError(
      'INVALID_INPUT',
      `${secret} is managed in the ${recorded} layout (its keyflip-layout label); --layout ${requested} does not match`,
      { secret },
    );
  }
  // Unlabelled: `NAME` with an alias `current` is an alias ring; a `NAME_v3`, a legacy suffix ring.
  const inferred = alias?.aliases.current !== undefined ? 'alias' : top >= 3 ? 'suffix' : 'pair';
  return requested ?? recorded ?? inferred;
}
