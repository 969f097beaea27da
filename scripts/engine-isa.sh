#!/usr/bin/env bash
# Prints the kernels (scalar, avx2, avx512) an agentd binary's engine picks on
# this CPU, under the caller's AGENTD_ISA, as `agentd bench` reports them:
#   scripts/engine-isa.sh AGENTD_BIN
# One rule for every script: the engine's own detection (kernels.cpp).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${AGENTD_TESTDATA_DIR:-$root/../shared/testdata}/models/stories260K.gguf
"$1" bench --model "$model" --prompt-tokens 8 --gen-tokens 2 --threads 1 --json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["isa"])'
