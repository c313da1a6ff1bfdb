/**
 * Library issues this drill found, each with a check of its own that recognises it by its signature:
 * 1 (`no-fail-closed`) and 2 (`no-stale-join`) are fixed (d7125cf), 3 (`staged-unseen`) is fixed (issue 15:
 * `provision` stages the new key in `NAME_next`, which no app declares); each fails the drill if it comes back.
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
    'a staged key was readable by an app before its flip: the old suffix `rotate provision` added it as ' +
    'NAME_v{n+1} (Secret Manager adds every version enabled) and disabled it in its next call, so an app that ' +
    'declared NAME_v{n+1} and refreshed in between read the staged, not yet probed key until its next refresh ' +
    '(fixed: provision stages in NAME_next, which no app declares, in the pair and suffix layouts).',
} as const;
