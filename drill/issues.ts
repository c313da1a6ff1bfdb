/**
 * Library issues this drill found, each with a check of its own that recognises it by its signature:
 * 1 (`no-fail-closed`) and 2 (`no-stale-join`) are fixed (d7125cf) and fail the drill if they come back;
 * 3 (`staged-unseen`) is open, and informs.
 */
export const ISSUES_FOUND = {
  1:
    'in the suffix layout, a refresh whose chain walk straddles `rotate emergency` (NAME_v3 read before its ' +
    'version was added, NAME_v2 read after it was disabled) finds every candidate absent and fails closed ' +
    '(SecretRevokedError) until the next refresh, although a key was live throughout.',
  2:
    "authFetch's forced refresh on a 401 joins a refresh already running, which read the candidates before the " +
    'old key was disabled; it ends on the same key (or, torn by issue 1, on none), so the 401 goes back to the ' +
    'SDK, and the old key is put on the 1 s refresh cooldown, so the next 401s within it go back too.',
  3:
    'in the suffix layout, `rotate provision` adds the staged key (Secret Manager adds every version enabled) ' +
    'and disables it in its next call: an app that declares NAME_vN and refreshes in between reads the staged, ' +
    'not yet probed key until its next refresh.',
} as const;
