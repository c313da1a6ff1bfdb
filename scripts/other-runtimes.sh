#!/usr/bin/env bash
# The runtimes users have, beside .ci/run's default leg (the system Node, 20, with @google-cloud/secret-manager 6):
#
#   scripts/other-runtimes.sh node MAJOR     print the path of a Node MAJOR binary: the system node when it is that
#                                            major, else KEYFLIP_NODE_<MAJOR> if set, else the npm package
#                                            node-<platform>-<arch>@MAJOR (bin/node), installed into KEYFLIP_NODE_CACHE
#                                            (default node_modules/.cache/keyflip-node: `npm ci` empties it, npm's own
#                                            cache refills it; nothing is downloaded from anywhere but the npm registry)
#   scripts/other-runtimes.sh engines MAJOR  `npm ci --dry-run` on Node MAJOR; fails on any EBADENGINE warning
#   scripts/other-runtimes.sh tests MAJOR    the unit and built-package loading tests (dist/ built) on Node MAJOR
#   scripts/other-runtimes.sh sdk7 MAJOR     @google-cloud/secret-manager@^7.2 (what Node 22/24 users install) in a
#                                            copy of the repository: the gcp, emulator and rotation tests on Node MAJOR;
#                                            then the newest majors of the LLM SDKs (openai 7, ai 7 + @ai-sdk/* 4,
#                                            @google/genai 3, …: they need Node 22) and the client tests on them; in
#                                            the copy KEYFLIP_SDK7_DIR when sdk7-prepare made it
#   scripts/other-runtimes.sh sdk7-prepare MAJOR DIR   that copy, made ahead in the empty directory DIR
#
# Child processes in the tests use process.execPath, and the chosen Node leads PATH (so `npm` and `node` in scripts
# run on it too). With KEYFLIP_TEST_REPORT_DIR set, each run writes its JSON report there under its own name
# (unit-node22.json, …: vitest.shared.ts appends KEYFLIP_TEST_REPORT_SUFFIX).
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "other-runtimes: $*" >&2
  exit 1
}

# The path of a Node binary of major version $1.
node_for() {
  local major=$1 override="KEYFLIP_NODE_$1"
  if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
    command -v node
    return
  fi
  if [ -n "${!override:-}" ]; then
    echo "${!override}"
    return
  fi
  local pkg cache bin
  pkg="node-$(node -p 'process.platform === "win32" ? "win" : process.platform')-$(node -p process.arch)"
  # Inside the repository, not $HOME: some tests run the binary as an unprivileged user (a $HOME such as /root,
  # mode 700, would not let it start).
  cache="${KEYFLIP_NODE_CACHE:-$PWD/node_modules/.cache/keyflip-node}/$major"
  bin="$cache/node_modules/$pkg/bin/node"
  if [ ! -x "$bin" ]; then
    echo "other-runtimes: installing $pkg@$major from the npm registry into $cache" >&2
    npm install --prefix "$cache" --no-save --no-package-lock --no-audit --no-fund --prefer-offline --loglevel=error \
      "$pkg@$major" >&2 || die "cannot install $pkg@$major (set $override to a Node $major binary)"
  fi
  [ -x "$bin" ] || die "$pkg@$major has no bin/node (set $override to a Node $major binary)"
  echo "$bin"
}

# with_node BIN COMMAND…: runs COMMAND with BIN's directory first on PATH.
with_node() {
  local bin=$1
  shift
  PATH="$(dirname "$bin"):$PATH" "$@"
}

# prepare_sdk7 BIN DIR: a copy of the sources in DIR, `npm ci` and @google-cloud/secret-manager@^7.2 installed on
# BIN's Node; DIR/.keyflip-sdk7-ready marks it done.
prepare_sdk7() {
  local bin=$1 dir=$2
  # The sources only: no node_modules, no build, no other generated output.
  tar --exclude=./node_modules --exclude=./dist --exclude=./.git --exclude=./coverage --exclude=./.scratch \
    --exclude=./.bench --exclude=./.snippets --exclude=./docs/api --exclude=./drill/results -cf - . |
    tar -xf - -C "$dir"
  (
    cd "$dir"
    with_node "$bin" npm ci --no-audit --no-fund --prefer-offline --loglevel=error
    with_node "$bin" npm install --no-save --no-audit --no-fund --prefer-offline --loglevel=error \
      '@google-cloud/secret-manager@^7.2'
  )
  touch "$dir/.keyflip-sdk7-ready"
}

cmd=${1:-}
major=${2:-}
[ -n "$cmd" ] && [[ "$major" =~ ^[0-9]+$ ]] ||
  die "usage: scripts/other-runtimes.sh node|engines|tests|sdk7 MAJOR, or sdk7-prepare MAJOR DIR"

case "$cmd" in
node)
  node_for "$major"
  ;;
engines)
  bin=$(node_for "$major")
  echo "── npm ci --dry-run on Node $("$bin" -v): no EBADENGINE warning"
  out=$(with_node "$bin" npm ci --dry-run --no-audit --no-fund 2>&1) || {
    echo "$out" >&2
    die "npm ci --dry-run failed on Node $major"
  }
  if grep -q EBADENGINE <<<"$out"; then
    grep EBADENGINE <<<"$out" >&2
    die "npm ci warns EBADENGINE on Node $major"
  fi
  ;;
tests)
  bin=$(node_for "$major")
  [ -d dist ] || die "dist/ is not built: run npm run build first"
  echo "── unit and built-package tests on Node $("$bin" -v) ($bin)"
  status=0
  export KEYFLIP_TEST_REPORT_SUFFIX="-node$major"
  with_node "$bin" "$bin" node_modules/vitest/vitest.mjs run || status=$?
  # The rotation tests run on Node 20 (the default leg) and on Node 22 with SDK 7 (`sdk7`, what Node 22 and 24 users
  # install); the emulator and gcp tests of the unit run cover gRPC on this Node.
  # The built package as this Node loads it (ESM and CJS, every subpath, the bin). The other dist tests run tools
  # (arethetypeswrong, publint, typedoc, tsc over the docs' snippets) whose answer does not depend on the Node that
  # runs them: the default leg runs them once.
  with_node "$bin" "$bin" node_modules/vitest/vitest.mjs run --config vitest.dist.config.ts test/dist/package.test.ts ||
    status=$?
  exit "$status"
  ;;
sdk7-prepare)
  # The copy `sdk7` tests in, made ahead (it is mostly installing: .ci/run makes it in the background beside the
  # CPU-bound Node 22 and 24 legs). DIR must be an empty directory; it is `sdk7`'s to delete.
  bin=$(node_for "$major")
  work=${3:-}
  [ -n "$work" ] && [ -d "$work" ] && [ -z "$(ls -A "$work")" ] || die "sdk7-prepare: DIR must be an empty directory"
  prepare_sdk7 "$bin" "$work"
  ;;
sdk7)
  bin=$(node_for "$major")
  [ -z "${KEYFLIP_TEST_REPORT_DIR:-}" ] || KEYFLIP_TEST_REPORT_DIR=$(cd "$KEYFLIP_TEST_REPORT_DIR" && pwd)
  # A copy sdk7-prepare made (KEYFLIP_SDK7_DIR), else one made now.
  if [ -n "${KEYFLIP_SDK7_DIR:-}" ] && [ -f "${KEYFLIP_SDK7_DIR}/.keyflip-sdk7-ready" ]; then
    work=$KEYFLIP_SDK7_DIR
    prepared=yes
  else
    [ -z "${KEYFLIP_SDK7_DIR:-}" ] || echo "other-runtimes: ${KEYFLIP_SDK7_DIR} is not a prepared copy: preparing one"
    work=$(mktemp -d "${TMPDIR:-/tmp}/keyflip-sdk7-XXXXXX")
    prepared=no
  fi
  trap 'rm -rf "$work"' EXIT
  [ "$prepared" = yes ] || prepare_sdk7 "$bin" "$work"
  cd "$work"
  sdk=$("$bin" -p 'require("@google-cloud/secret-manager/package.json").version')
  echo "── @google-cloud/secret-manager $sdk on Node $("$bin" -v): the gcp, emulator and rotation tests"
  case "$sdk" in 7.*) ;; *) die "expected @google-cloud/secret-manager 7.x, got $sdk" ;; esac
  export KEYFLIP_TEST_REPORT_SUFFIX="-sdk7-node$major"
  status=0
  with_node "$bin" "$bin" node_modules/vitest/vitest.mjs run test/sources/gcp.test.ts test/testing/ || status=$?
  with_node "$bin" "$bin" node_modules/vitest/vitest.mjs run --config vitest.rotation.config.ts || status=$?
  # The LLM SDKs' newest majors, which declare Node >= 22: package.json holds the newest that run on Node 20 (what
  # `npm install` picks there); Node 22 and 24 users get these. The same client tests, against them.
  with_node "$bin" npm install --no-save --no-audit --no-fund --prefer-offline --loglevel=error \
    'openai@^7' '@anthropic-ai/sdk@latest' 'ai@^7' '@ai-sdk/openai@^4' '@ai-sdk/anthropic@^4' '@ai-sdk/google@^4' \
    '@google/genai@^3' '@langchain/openai@latest' '@langchain/anthropic@latest' '@mistralai/mistralai@latest'
  llm=$("$bin" -p 'const fs = require("fs");
    ["openai", "ai", "@ai-sdk/openai", "@google/genai", "@langchain/openai"]
      .map((p) => `${p} ${JSON.parse(fs.readFileSync(`node_modules/${p}/package.json`, "utf8")).version}`).join(", ")')
  echo "── $llm on Node $("$bin" -v): the client tests"
  case "$llm" in "openai 7."*", ai 7."*) ;; *) die "expected openai 7 and ai 7, got $llm" ;; esac
  export KEYFLIP_TEST_REPORT_SUFFIX="-llm-latest-node$major"
  with_node "$bin" "$bin" node_modules/vitest/vitest.mjs run test/clients/ || status=$?
  exit "$status"
  ;;
*)
  die "unknown command $cmd (node, engines, tests, sdk7-prepare, sdk7)"
  ;;
esac
