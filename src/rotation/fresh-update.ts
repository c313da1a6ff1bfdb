/** Updating a secret without losing a concurrent change: read it again, and write with its current etag. */
import type { SecretAdmin, SecretMeta } from './admin.js';
import { RotationError } from './errors.js';

/** The fields a command changes on a secret, from what the secret holds now. */
export type SecretChange = (meta: SecretMeta) => {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  aliases?: Record<string, number>;
};

/**
 * Reads the secret again and updates it with its current etag, so a concurrent change fails the write
 * instead of being lost.
 */
export async function updateFresh(admin: SecretAdmin, id: string, change: SecretChange): Promise<SecretMeta> {
  const meta = await admin.getSecret(id);
  if (!meta) throw new RotationError('BACKEND', `secret ${id} disappeared during the command`);
  return admin.updateSecret(id, change(meta), meta.etag);
}
