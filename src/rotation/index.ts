/**
 * 'keyflip/rotation': the rotation playbook as functions (the `keyflip rotate` and `keyflip audit`
 * commands call them), on Google Cloud Secret Manager, in the `suffix` layout (`NAME_v1`, `NAME_v2`, …)
 * or the `alias` layout (`NAME@current`, `NAME@previous`). Every command reads the state from the
 * secrets (labels and annotations record which step ran when), refuses when a safety gate says no, and
 * can run again after stopping part-way.
 */
export {
  openSecretAdmin,
  type SecretAdmin,
  type SecretAdminOptions,
  type SecretManagerAdminClientLike,
  type SecretMeta,
  type VersionMeta,
  type VersionState,
} from './admin.js';
export { RotationError, type RotationErrorCode } from './errors.js';
export { LAYOUTS, readRing, type KeyRing, type KeyRole, type Layout, type RotationKey } from './ring.js';
export { ANNOTATION, LABEL, type VersionRecords } from './records.js';
export { nextStep } from './state.js';
export { status, type StatusOptions } from './status.js';
export { provision, type ProvisionOptions } from './provision.js';
export { probe, type ProbeStagedOptions } from './probe.js';
export { flip, type FlipOptions } from './flip.js';
export { verify, type VerifyOldOptions } from './verify.js';
export { revoke, type RevokeOptions } from './revoke.js';
export { emergency, type EmergencyOptions } from './emergency.js';
export { discard } from './discard.js';
export {
  audit,
  auditByok,
  type AuditEntry,
  type AuditOptions,
  type AuditResult,
  type ByokAuditOptions,
  type ByokAuditResult,
  type ByokEntry,
} from './audit.js';
export type {
  KeyVerification,
  KeyView,
  NextStep,
  RefusalCode,
  RotateCommand,
  RotationContext,
  RotationOutcome,
  RotationResult,
} from './types.js';
