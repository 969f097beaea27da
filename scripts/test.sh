#!/usr/bin/env bash
# Installs what is missing, builds agentd twice (Release, and Debug with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test in both,
# on SQLite and on a throwaway PostgreSQL cluster started here.
#   scripts/test.sh            both builds
#   scripts/test.sh release    Release only (quick local loop)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
which_builds=${1:-all}

bash scripts/install-deps.sh
# The official openai npm package, driven by tests/e2e/test_runs_openai.py.
(cd tests/e2e/node && npm ci --no-audit --no-fund --loglevel=error)

jobs=$(nproc)
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/agentd-ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
# Paths are rewritten relative to the checkout, so clones in other folders hit the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}

pgdir=$(mktemp -d /tmp/agentd-pg.XXXXXX)
cleanup() { bash "$root/scripts/pg-cluster.sh" stop "$pgdir" || true; }
trap cleanup EXIT INT TERM
AGENTD_TEST_PG_URL=$(bash scripts/pg-cluster.sh start "$pgdir")
export AGENTD_TEST_PG_URL
echo "test.sh: PostgreSQL for tests at $AGENTD_TEST_PG_URL"

fail() { echo "test.sh: $*" >&2; exit 1; }

# A failed configure, build or ISA check ends the run (fail exits the script,
# even where the caller's `||` has switched set -e off).
build() {  # name, cmake args...
  local name=$1; shift
  cmake -S . -B "build/$name" -G Ninja "$@" >/dev/null || fail "configuring build/$name failed"
  ninja -C "build/$name" -j "$jobs" || fail "building build/$name failed"
  python3 scripts/check-isa-leaks.py "build/$name" || fail "AVX2/AVX-512 code outside the ISA files in build/$name"
}

suite() {  # name, ISA the engine is held to ("" = the CPU's best)
  local name=$1 isa=$2
  echo "test.sh: build/$name, engine kernels: ${isa:-$native_isa}"
  (cd "build/$name" && AGENTD_ISA=$isa ctest --output-on-failure -j "$jobs" --timeout 900)
}

# The best kernels this CPU runs, as the engine detects them; the suite runs
# again with the engine held to each lower level (AGENTD_ISA).
native_isa=""
detect_isa() { native_isa=$(AGENTD_ISA="" bash scripts/engine-isa.sh "build/$1/src/app/agentd") ||
  fail "build/$1's agentd cannot run the engine"; }

status=0
if [ "$which_builds" = all ] || [ "$which_builds" = release ]; then
  build release -DCMAKE_BUILD_TYPE=Release
  detect_isa release
  suite release "" || status=1
  for isa in scalar avx2; do
    if [ "$isa" != "$native_isa" ] && { [ "$isa" = scalar ] || [ "$native_isa" = avx512 ]; }; then
      suite release "$isa" || status=1
    fi
  done
  bash scripts/qemu-smoke.sh build/release || status=1
fi
if [ "$which_builds" = all ] || [ "$which_builds" = asan ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  build asan -DCMAKE_BUILD_TYPE=Debug -DAGENTD_SANITIZE=ON -DAGENTD_BENCH=OFF
  detect_isa asan
  suite asan "" || status=1
  if [ "$native_isa" = avx512 ]; then suite asan avx2 || status=1; fi
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi
exit $status
