#!/usr/bin/env bash
# Runs agentd on an emulated x86-64 CPU without AVX-512 (qemu-user's `max`
# CPU: AVX2, FMA and F16C, which its translator supports, and no AVX-512,
# which it does not, so any AVX-512 instruction dies with SIGILL):
#   scripts/qemu-smoke.sh BUILD_DIR
# Checks that the engine there picks AVX2, then runs e2e files against that
# binary: the CLI against llama.cpp's golden ids, and a server that loads a
# model and serves runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
bin=$build/src/app/agentd
command -v qemu-x86_64 >/dev/null || { echo "qemu-smoke: qemu-x86_64 is missing (Debian's qemu-user)" >&2; exit 1; }

dir=$(mktemp -d /tmp/agentd-qemu.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/agentd" <<WRAP
#!/bin/sh
exec qemu-x86_64 -cpu max "$bin" "\$@"
WRAP
chmod +x "$dir/agentd"

isa=$(bash "$root/scripts/engine-isa.sh" "$dir/agentd")
if [ "$isa" != avx2 ]; then
  echo "qemu-smoke: the emulated CPU should give the engine avx2, it gave $isa" >&2
  exit 1
fi
echo "qemu-smoke: agentd under qemu-x86_64 -cpu max runs the avx2 kernels"

cd "$root/tests/e2e"
AGENTD_BIN="$dir/agentd" AGENTD_TESTDATA_DIR=${AGENTD_TESTDATA_DIR:-$root/../shared/testdata} \
  AGENTD_SOURCE_DIR=$root python3 -m unittest test_generate_cli test_engine_batching
