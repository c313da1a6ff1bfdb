/**
 * The key `rotate auto` minted: the drill never sees it on any output (that is the point), so it reads it back from
 * Secret Manager (the emulator, in its own process) where the command stored it, to count the requests that carry
 * it and to search every output for it. It checks the value against the fingerprint the command reported.
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { fingerprint } from '../src/index.js';
import { PROJECT } from './constants.js';
import type { CommandRun } from './rotate-command.js';
import type { DrillServices } from './services.js';

/** A key as a command's `--json` lists it, with what the drill reads of its provider record. */
interface ListedKey {
  readonly secretId: string;
  readonly version: number;
  readonly role: string;
  readonly fingerprint?: string;
  readonly records?: { provider?: { keyId?: string; minted?: boolean; serviceAccount?: string } };
}

/** The minted key: its value (never shown), where it is stored and its identity at the provider. */
export interface MintedKey {
  readonly value: string;
  /** `OPENAI_API_KEY_v2@4`: the version that holds it live. */
  readonly stored: string;
  readonly fingerprint: string;
  /** Its id at the provider, as the command recorded it. */
  readonly keyId: string | undefined;
  /** The service account it was minted in (OpenAI), as the command recorded it. */
  readonly serviceAccount: string | undefined;
}

/**
 * Reads the live key the `auto` run reported (the one it minted and flipped) from Secret Manager. Throws when the
 * run listed no live key, or when the value read is not the key it reported (another fingerprint).
 */
export async function readMintedKey(services: DrillServices, run: CommandRun): Promise<MintedKey> {
  const keys = (run.json?.keys ?? []) as ListedKey[];
  const live = keys.find((k) => k.role === 'live' && typeof k.fingerprint === 'string');
  if (!live) throw new Error('rotate auto listed no live key with a fingerprint');
  const client = new SecretManagerServiceClient(services.emulator.clientOptions);
  try {
    const [answer] = await client.accessSecretVersion({
      name: `projects/${PROJECT}/secrets/${live.secretId}/versions/${live.version}`,
    });
    const data = answer.payload?.data;
    const value = typeof data === 'string' ? data : Buffer.from(data ?? new Uint8Array()).toString('utf8');
    if (fingerprint(value) !== live.fingerprint)
      throw new Error(`${live.secretId}@${live.version} does not hold the key rotate auto reported live`);
    return {
      value,
      stored: `${live.secretId}@${live.version}`,
      fingerprint: live.fingerprint as string,
      keyId: live.records?.provider?.keyId,
      serviceAccount: live.records?.provider?.serviceAccount,
    };
  } finally {
    await client.close();
  }
}
