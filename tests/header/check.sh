#!/usr/bin/env bash
# Compiles include/persisting.h as C (C99, C11, C17) and C++ (C++11, 14, 17,
# 20) with warnings as errors, then links both test TUs into one program with
# libpersisting.so and runs it. Exits non-zero on any failure.
#   tests/header/check.sh          (needs build/libpersisting.so: ./build.sh)
# Environment: CC (default cc), CXX (default c++), OUT (default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
CC=${CC:-cc}
CXX=${CXX:-c++}
OUT=${OUT:-build}
DIR="$OUT/header"
mkdir -p "$DIR"

# The flags of the task: a client builds with at least these.
REQUIRED=(-Wall -Wextra -Werror -Iinclude)
# More warnings that a public header should never trigger, each kept only if
# the compiler knows it (clang lacks -Wuseless-cast, for one).
EXTRA_COMMON=(-pedantic-errors -Wshadow -Wconversion -Wsign-conversion -Wcast-qual -Wundef -Wredundant-decls)
EXTRA_C=(-Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition)
EXTRA_CXX=(-Wold-style-cast -Wzero-as-null-pointer-constant -Wuseless-cast)
known() { # compiler language flag
  echo 'int x;' | "$1" -x "$2" -Werror "$3" -c - -o /dev/null 2>/dev/null
}
CFLAGS=("${REQUIRED[@]}")
for f in "${EXTRA_COMMON[@]}" "${EXTRA_C[@]}"; do known "$CC" c "$f" && CFLAGS+=("$f"); done
CXXFLAGS=("${REQUIRED[@]}")
for f in "${EXTRA_COMMON[@]}" "${EXTRA_CXX[@]}"; do known "$CXX" c++ "$f" && CXXFLAGS+=("$f"); done

# Every function of the header must be used by both TUs: a function added to
# the header without a check here fails (same parsing as exports.sh).
functions=$(perl -0777 -pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' include/persisting.h |
  grep -oE '\bpersisting_[a-z0-9_]+[[:space:]]*\(' | sed -E 's/[[:space:]]*\($//' | sort -u)
[[ -n "$functions" ]] || { echo "header: found no function in include/persisting.h" >&2; exit 1; }
for tu in tests/header/header_c.c tests/header/header_cpp.cpp; do
  for fn in $functions; do
    grep -qw "$fn" "$tu" || { echo "header: $tu does not use $fn (new in include/persisting.h?)" >&2; exit 1; }
  done
done
# The Rust client declares the C API by hand: it must not fall behind either.
for fn in $functions; do
  grep -qE "fn $fn\(" examples/rust/src/lib.rs ||
    { echo "header: examples/rust/src/lib.rs does not declare $fn" >&2; exit 1; }
done

failed=0
compile() { # compiler std source object flags...
  local compiler=$1 std=$2 src=$3 obj=$4
  shift 4
  if "$compiler" "-std=$std" "$@" -c "$src" -o "$obj"; then
    echo "header: $compiler -std=$std $src ok ($*)"
  else
    echo "header: $compiler -std=$std $src FAILED" >&2
    failed=1
  fi
}

for std in c99 c11 c17; do
  compile "$CC" "$std" tests/header/header_c.c "$DIR/header_c.$std.o" "${CFLAGS[@]}"
done
for std in c++11 c++14 c++17 c++20; do
  compile "$CXX" "$std" tests/header/header_cpp.cpp "$DIR/header_cpp.$std.o" "${CXXFLAGS[@]}"
done
((failed == 0)) || exit 1

LIB="$OUT/libpersisting.so"
[[ -f "$LIB" ]] || { echo "header: $LIB not found (run ./build.sh first)" >&2; exit 1; }
# Linking C++ objects proves the C linkage of every declaration; C and C++
# objects in one program prove both languages name the same symbols.
"$CXX" "$DIR/header_cpp.c++11.o" "$DIR/header_c.c99.o" -L"$OUT" -lpersisting -Wl,-rpath,"$(cd "$OUT" && pwd)" \
  -Wl,--no-undefined -o "$DIR/header_check"
"$DIR/header_check"
