#!/usr/bin/env bash
# Checks that the shipped libpersisting.so has no test hooks compiled in (they
# come only with build tag testhooks, ./build.sh testhooks): neither the crash
# points (their environment variable) nor the boundary ledger (its stats keys).
# With --expect-hooks it checks the opposite, for the test build.
#   tests/header/no_test_hooks.sh [--expect-hooks] [path/to/libpersisting.so]
set -euo pipefail
cd "$(dirname "$0")/../.."
expect=absent
if [[ "${1:-}" == --expect-hooks ]]; then
  expect=present
  shift
fi
LIB=${1:-build/libpersisting.so}
[[ -f "$LIB" ]] || { echo "no_test_hooks: $LIB not found (run ./build.sh first)" >&2; exit 1; }
ok=0
for marker in PERSISTING_TEST_CRASH_AT last_import_buffers; do
  if grep -q -a -F "$marker" "$LIB"; then found=present; else found=absent; fi
  if [[ "$found" != "$expect" ]]; then
    echo "no_test_hooks: $LIB: '$marker' is $found, expected $expect" >&2
    ok=1
  fi
done
if ((ok == 0)); then
  echo "no_test_hooks: $LIB: test hooks $expect, as expected"
fi
exit "$ok"
