/**
 * 'keyflip/rotation': the rotation playbook as functions (the `keyflip rotate` and `keyflip audit`
 * commands call them), on Google Cloud Secret Manager, in the `pair` layout (the default: apps declare
 * `NAME_v2 ?? NAME_v1` for good), the legacy `suffix` layout (`NAME_v1`, `NAME_v2`, `NAME_v3`, …) or the `alias`
 * layout (`NAME@current`, `NAME@previous`). Every command reads the state from the
 * secrets (labels and annotations record which step ran when), refuses when a safety gate says no, and
 * can run again after stopping part-way.
 * @module keyflip/rotation
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
export { RotationError, type RotationErrorCode, type RotationErrorOptions } from './errors.js';
export { chooseLayout, LAYOUTS, recordedLayout, type Layout } from './layout.js';
export { readRing, type KeyRing, type ReadRingOptions, type RotationKey, type StoppedSequence } from './key-ring.js';
export type { KeyRole } from './key-roles.js';
export {
  ANNOTATION,
  LABEL,
  type ProviderRecord,
  type ProviderRevokedRecord,
  type VersionRecords,
} from './records.js';
export { nextStep } from './next-step.js';
export { status, type StatusOptions } from './rotation-status.js';
export { provision, type ProvisionOptions } from './provision-next-key.js';
export { mintedKeyName, provisionMinted, type MintOptions } from './mint-key.js';
export { MINTING_ANNOTATION, type MintingMark } from './minting-mark.js';
export { probe, type ProbeStagedOptions } from './probe-staged-key.js';
export { flip, type FlipOptions } from './flip-to-staged-key.js';
export { verify, type VerifyOldOptions } from './verify-old-keys.js';
export { revoke, type RevokeOptions } from './revoke-old-keys.js';
export { emergency, type EmergencyOptions } from './emergency-rotation.js';
export { auto, type AutoOptions } from './auto-rotation.js';
export { discard } from './discard-staged-key.js';
export { rollback, type RollbackOptions } from './rollback-flip.js';
export { migrate } from './migrate-layout.js';
export {
  audit,
  auditByok,
  type AuditEntry,
  type AuditOptions,
  type AuditOrphan,
  type AuditProviderKey,
  type AuditResult,
  type ByokAuditOptions,
  type ByokAuditResult,
  type ByokEntry,
} from './key-age-audit.js';
export {
  ROTATE_COMMANDS,
  type KeyVerification,
  type KeyView,
  type LeakReport,
  type ProviderEvidence,
  type ProviderRevocation,
  type NextStep,
  type RefusalCode,
  type RotateCommand,
  type RotationContext,
  type RotationOutcome,
  type RotationResult,
} from './types.js';
