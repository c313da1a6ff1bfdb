/**
 * 'keyflip/rotation' keeps every name it exported, and exports everything the CLI imports (the CLI imports
 * rotation only through the index).
 */
import { expect, expectTypeOf, it } from 'vitest';
import * as rotation from '../../src/rotation/index.js';
import type {
  AuditEntry,
  AuditOptions,
  AuditResult,
  ByokAuditOptions,
  ByokAuditResult,
  ByokEntry,
  EmergencyOptions,
  FlipOptions,
  KeyRing,
  KeyRole,
  KeyVerification,
  KeyView,
  Layout,
  NextStep,
  ProbeStagedOptions,
  ProvisionOptions,
  RefusalCode,
  RevokeOptions,
  RotateCommand,
  RotationContext,
  RotationErrorCode,
  RotationKey,
  RotationOutcome,
  RotationResult,
  SecretAdmin,
  SecretAdminOptions,
  SecretManagerAdminClientLike,
  SecretMeta,
  StatusOptions,
  VerifyOldOptions,
  VersionMeta,
  VersionRecords,
  VersionState,
} from '../../src/rotation/index.js';

/** Every type the index exported before (and the CLI imports): a missing one fails the type check. */
type Exported = [
  AuditEntry,
  AuditOptions,
  AuditResult,
  ByokAuditOptions,
  ByokAuditResult,
  ByokEntry,
  EmergencyOptions,
  FlipOptions,
  KeyRing,
  KeyRole,
  KeyVerification,
  KeyView,
  Layout,
  NextStep,
  ProbeStagedOptions,
  ProvisionOptions,
  RefusalCode,
  RevokeOptions,
  RotateCommand,
  RotationContext,
  RotationErrorCode,
  RotationKey,
  RotationOutcome,
  RotationResult,
  SecretAdmin,
  SecretAdminOptions,
  SecretManagerAdminClientLike,
  SecretMeta,
  StatusOptions,
  VerifyOldOptions,
  VersionMeta,
  VersionRecords,
  VersionState,
];

it('exports every value it exported before, and what the CLI imports', () => {
  expectTypeOf<Exported>().toBeArray();
  const values = [
    'openSecretAdmin',
    'RotationError',
    'LAYOUTS',
    'readRing',
    'ANNOTATION',
    'LABEL',
    'nextStep',
    'status',
    'provision',
    'probe',
    'flip',
    'verify',
    'revoke',
    'emergency',
    'discard',
    'audit',
    'auditByok',
    // for the CLI
    'recordedLayout',
    'chooseLayout',
    'ROTATE_COMMANDS',
  ];
  expect(values.filter((name) => !(name in rotation))).toEqual([]);
  expect(rotation.ROTATE_COMMANDS).toEqual([
    'status',
    'provision',
    'probe',
    'flip',
    'verify',
    'revoke',
    'emergency',
    'discard',
    'rollback',
    'migrate',
  ]);
  expect(rotation.LAYOUTS).toEqual(['pair', 'suffix', 'alias']);
});
