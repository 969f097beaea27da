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

run_build() {  # name, cmake args...
  local name=$1; shift
  cmake -S . -B "build/$name" -G Ninja "$@" >/dev/null
  ninja -C "build/$name" -j "$jobs"
  (cd "build/$name" && ctest --output-on-failure -j "$jobs" --timeout 900)
}

status=0
if [ "$which_builds" = all ] || [ "$which_builds" = release ]; then
  run_build release -DCMAKE_BUILD_TYPE=Release || status=1
fi
if [ "$which_builds" = all ] || [ "$which_builds" = asan ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_build asan -DCMAKE_BUILD_TYPE=Debug -DAGENTD_SANITIZE=ON -DAGENTD_BENCH=OFF || status=1
fi
exit $status
