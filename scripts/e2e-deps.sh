#!/usr/bin/env bash
# Installs the system packages `npm run test:e2e` needs, when they are missing (Debian/Ubuntu, apt-get):
#   prometheus  → /usr/bin/prometheus   (test/e2e/prometheus.e2e.test.ts)
#   chromium    → /usr/bin/chromium     (the collector page test, through playwright-core)
# Exits non-zero, saying why, when it cannot install them.
set -euo pipefail

missing=()
[ -x /usr/bin/prometheus ] || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ "${#missing[@]}" -eq 0 ] && exit 0

fail() {
  echo "e2e-deps: could not install ${missing[*]}: $1" >&2
  echo "e2e-deps: install the Debian packages '${missing[*]}' (apt-get install ${missing[*]})," \
    "then run npm run test:e2e again" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available (not Debian/Ubuntu)"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    fail "not root, and no password-less sudo"
  fi
fi

echo "e2e-deps: installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq || fail "apt-get update failed"
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null \
  || fail "apt-get install failed"

for bin in "${missing[@]}"; do
  [ -x "/usr/bin/$bin" ] || fail "/usr/bin/$bin is still missing after apt-get install $bin"
done
echo "e2e-deps: installed ${missing[*]}" >&2
