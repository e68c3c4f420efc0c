#!/usr/bin/env bash
# Checks that libpersisting.so exports exactly the functions declared in
# include/persisting.h: nothing of the Go runtime or the cgo glue (hidden by
# capi/exports.map), and no declared function missing.
#   tests/header/exports.sh [path/to/libpersisting.so]   (default build/libpersisting.so)
set -euo pipefail
cd "$(dirname "$0")/../.."
LIB=${1:-build/libpersisting.so}
HEADER=include/persisting.h
[[ -f "$LIB" ]] || { echo "exports: $LIB not found (run ./build.sh first)" >&2; exit 1; }
command -v nm >/dev/null || { echo "exports: nm not found (binutils)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The header's functions: comments stripped, then every persisting_* name
# followed by '(' (macros are PERSISTING_* in capitals and not matched).
perl -0777 -pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$HEADER" |
  grep -oE '\bpersisting_[a-z0-9_]+[[:space:]]*\(' | sed -E 's/[[:space:]]*\($//' | sort -u >"$tmp/declared"
# Every defined dynamic symbol, whatever its kind (text, data, bss).
nm -D --defined-only "$LIB" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/exported"

if [[ ! -s "$tmp/declared" ]]; then
  echo "exports: found no function in $HEADER" >&2
  exit 1
fi

extra=$(comm -13 "$tmp/declared" "$tmp/exported")
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
ok=0
if [[ -n "$extra" ]]; then
  echo "exports: $LIB exports $(wc -l <<<"$extra") symbol(s) not declared in $HEADER:" >&2
  head -20 <<<"$extra" | sed 's/^/  /' >&2
  ok=1
fi
if [[ -n "$missing" ]]; then
  echo "exports: functions declared in $HEADER but not exported by $LIB:" >&2
  sed 's/^/  /' <<<"$missing" >&2
  ok=1
fi
if ((ok == 0)); then
  echo "exports: $LIB exports exactly the $(wc -l <"$tmp/declared") functions of $HEADER"
fi
exit "$ok"
