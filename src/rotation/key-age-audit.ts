/**
 * The schedule: `audit` lists every secret `keyflip rotate` manages with the age of its live key, for a
 * scheduled job that fails when one is older than the policy; `auditByok` lists end-user keys (secrets
 * labelled for a family) older than the policy, so the app can remind their owners. Neither writes.
 */
import type { SecretAdmin } from './admin.js';
import { RotationError } from './errors.js';
import { ANNOTATION, LABEL, LABEL_VALUE } from './records.js';
import { readRing } from './key-ring.js';
import { LAYOUTS, type Layout } from './layout.js';
import { nextStep } from './next-step.js';

/** Options of {@link audit}. */
export interface AuditOptions {
  /** The policy: a live key older than this is over it, in ms. */
  maxAgeMs: number;
  /** Only secrets labelled `keyflip-environment=<environment>`. @default every environment */
  environment?: string | undefined;
  /** ms since the epoch. @default Date.now */
  now?: (() => number) | undefined;
}

/** One rotated secret in an {@link AuditResult}. */
export interface AuditEntry {
  /** The rotated secret's name (`OPENAI_API_KEY`). */
  readonly name: string;
  /** The layout of its keys. */
  readonly layout: Layout;
  /** Its `keyflip-environment` label, if any. */
  readonly environment: string | undefined;
  /** The live key (`OPENAI_API_KEY_v3`, `OPENAI_API_KEY@3`); undefined when there is none. */
  readonly live: string | undefined;
  /** When the live key's version was created (ISO). */
  readonly liveCreatedAt: string | undefined;
  /** The live key's age, ms; undefined when there is no live key. */
  readonly ageMs: number | undefined;
  /** The live key is older than `maxAgeMs`. */
  readonly overPolicy: boolean;
  /** A rotation in flight or a ring without a live key, for people. */
  readonly attention: string | undefined;
}

/** What {@link audit} answers: every rotated secret with the age of its live key. */
export interface AuditResult {
  /** No live key is over the policy. */
  readonly ok: boolean;
  /** The policy it was checked against, ms. */
  readonly maxAgeMs: number;
  /** When it was checked (ISO). */
  readonly at: string;
  /** Every secret `keyflip rotate` manages (in the environment asked for), by name. */
  readonly entries: readonly AuditEntry[];
  /** How many live keys are over the policy. */
  readonly over: number;
}

const checkMaxAge = (ms: number): void => {
  if (!(ms > 0) || !Number.isFinite(ms))
    throw new RotationError('INVALID_INPUT', 'the maximum age must be a positive duration (90d)');
};

/**
 * Lists every secret `keyflip rotate` manages (labelled `keyflip-managed=true`) with the age of its live key, for a
 * scheduled job that fails when one is over the policy (`ok: false`). Reads only. Throws a `RotationError`
 * (`INVALID_INPUT`) for a bad `maxAgeMs` or environment.
 */
export async function audit(admin: SecretAdmin, options: AuditOptions): Promise<AuditResult> {
  checkMaxAge(options.maxAgeMs);
  const env = options.environment;
  if (env !== undefined && !LABEL_VALUE.test(env))
    throw new RotationError('INVALID_INPUT', 'the environment must be 1 to 63 lowercase letters, digits, "_" or "-"');
  const now = (options.now ?? Date.now)();
  const filter = `labels.${LABEL.managed}=true${env === undefined ? '' : ` AND labels.${LABEL.environment}=${env}`}`;
  const secrets = await admin.listSecrets(filter);
  const rings = new Map<string, { name: string; layout: Layout }>();
  for (const s of secrets) {
    const layout = s.labels[LABEL.layout];
    const name = s.annotations[ANNOTATION.name] ?? (layout === 'suffix' ? s.id.replace(/_v\d+$/, '') : s.id);
    if (!(LAYOUTS as readonly string[]).includes(layout ?? '')) continue;
    rings.set(`${layout}:${name}`, { name, layout: layout as Layout });
  }
  const entries: AuditEntry[] = [];
  for (const { name, layout } of [...rings.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const ring = await readRing(admin, name, layout);
    const live = ring.live;
    const ageMs = live ? Math.max(0, now - live.createdAt) : undefined;
    const step = nextStep(ring);
    const inFlight = ring.pending || ring.staged || ring.old.length > 0;
    entries.push({
      name,
      layout,
      environment: ring.environment,
      live: live?.label,
      liveCreatedAt: live ? new Date(live.createdAt).toISOString() : undefined,
      ageMs,
      overPolicy: ageMs !== undefined && ageMs > options.maxAgeMs,
      attention: !live
        ? `no live key: ${step.why}`
        : inFlight
          ? `rotation in flight: next ${step.command} (${step.why})`
          : undefined,
    });
  }
  const over = entries.filter((e) => e.overPolicy).length;
  return { ok: over === 0, maxAgeMs: options.maxAgeMs, at: new Date(now).toISOString(), entries, over };
}

/** Options of {@link auditByok}. */
export interface ByokAuditOptions {
  /** The family label value: secrets labelled `keyflip-family=<family>`. */
  family: string;
  /** The policy, in ms. */
  maxAgeMs: number;
  /** ms since the epoch. @default Date.now */
  now?: (() => number) | undefined;
}

/** One end-user key over the policy, in a {@link ByokAuditResult}. */
export interface ByokEntry {
  /** The Secret Manager secret that holds it. */
  readonly secretId: string;
  /** The owner's id: the `keyflip-id` annotation, else the secret id. */
  readonly id: string;
  /** When the newest enabled version was created (ISO); undefined when none is enabled. */
  readonly keyCreatedAt: string | undefined;
  /** Its age, ms; undefined when no version is enabled. */
  readonly ageMs: number | undefined;
}

/** What {@link auditByok} answers: the end-user keys of a family that are over the policy. */
export interface ByokAuditResult {
  /** No key is over the policy. */
  readonly ok: boolean;
  /** The family asked about (`ByokAuditOptions.family`). */
  readonly family: string;
  /** The policy it was checked against, ms. */
  readonly maxAgeMs: number;
  /** When it was checked (ISO). */
  readonly at: string;
  /** How many end-user keys were looked at. */
  readonly checked: number;
  /** The keys older than the policy, oldest first. keyflip never rotates them: their owners do. */
  readonly over: readonly ByokEntry[];
}

/**
 * Lists the end-user keys of a family (secrets labelled `keyflip-family=<family>`) whose enabled version is older
 * than the policy, so the app can remind their owners; keyflip never rotates them. Reads only. Throws a
 * `RotationError` (`INVALID_INPUT`) for a bad `maxAgeMs` or family.
 */
export async function auditByok(admin: SecretAdmin, options: ByokAuditOptions): Promise<ByokAuditResult> {
  checkMaxAge(options.maxAgeMs);
  if (typeof options.family !== 'string' || !LABEL_VALUE.test(options.family)) {
    throw new RotationError('INVALID_INPUT', 'the family label must be 1 to 63 lowercase letters, digits, "_" or "-"');
  }
  const now = (options.now ?? Date.now)();
  const secrets = await admin.listSecrets(`labels.${LABEL.family}=${options.family}`);
  const over: ByokEntry[] = [];
  for (const s of secrets) {
    const enabled = (await admin.listVersions(s.id)).find((v) => v.state === 'ENABLED');
    const ageMs = enabled ? Math.max(0, now - enabled.createdAt) : undefined;
    if (ageMs !== undefined && ageMs > options.maxAgeMs) {
      over.push({
        secretId: s.id,
        id: s.annotations[ANNOTATION.id] ?? s.id,
        keyCreatedAt: new Date(enabled?.createdAt ?? 0).toISOString(),
        ageMs,
      });
    }
  }
  over.sort((a, b) => (b.ageMs ?? 0) - (a.ageMs ?? 0));
  return {
    ok: over.length === 0,
    family: options.family,
    maxAgeMs: options.maxAgeMs,
    at: new Date(now).toISOString(),
    checked: secrets.length,
    over,
  };
}
