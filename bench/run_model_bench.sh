#!/usr/bin/env bash
# Whole-model benchmark: makes SmolLM2-135M-shaped random models (dim 576,
# 30 layers, 9 heads, 3 KV heads, FFN 1536, the Llama SentencePiece vocabulary
# of testdata) in F32, Q8_0, Q4_0 and Q4_K_M with `agentd make-model`, then
# prints `agentd bench` figures for each of them and for stories260K:
# prompt processing (pp), generation with one sequence (tg b1) and with
# BATCH sequences decoded together (tg bN), and the ratio tg bN / tg b1. The
# ratio is the one `agentd bench --batch N` measures against one sequence
# decoded in the same minutes (its batch_speedup), not tg bN over the tg b1
# column, which comes from another process run earlier.
#
#   bench/run_model_bench.sh [--fresh] [--types "F32 Q8_0 Q4_0 Q4_K_M"]
#
# Environment:
#   AGENTD_BIN   agentd binary (default: build/src/app/agentd, or the first
#                build*/src/app/agentd found)
#   MODELS_DIR   where the models go (default build/bench-models; kept and
#                reused between runs unless --fresh)
#   THREADS      bench threads (default: all cores)
#   PROMPT, GEN  prompt and generated tokens (default 128 and 64)
#   BATCH        sequences for the batched tg figure (default 8)
#   REPS         measured repetitions averaged per figure (default 1)
#
# Figures are only comparable within one run on one machine: read the ratios
# (see bench/README.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTDATA="${AGENTD_TESTDATA_DIR:-$ROOT/../shared/testdata}"
TYPES="F32 Q8_0 Q4_0 Q4_K_M"
FRESH=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fresh) FRESH=1 ;;
    --types) TYPES="$2"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

BIN="${AGENTD_BIN:-}"
if [ -z "$BIN" ]; then
  for candidate in "$ROOT"/build/src/app/agentd "$ROOT"/build*/src/app/agentd; do
    if [ -x "$candidate" ]; then BIN="$candidate"; break; fi
  done
fi
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  echo "no agentd binary: build it (cmake --build build) or set AGENTD_BIN" >&2
  exit 1
fi
MODELS_DIR="${MODELS_DIR:-$ROOT/build/bench-models}"
THREADS="${THREADS:-$(nproc)}"
PROMPT="${PROMPT:-128}"
GEN="${GEN:-64}"
BATCH="${BATCH:-8}"
REPS="${REPS:-1}"
VOCAB="$TESTDATA/vocab/ggml-vocab-llama-spm.gguf"
mkdir -p "$MODELS_DIR"

SHAPE=(--dim 576 --layers 30 --heads 9 --kv-heads 3 --ffn 1536)
models=()
names=()
for type in $TYPES; do
  path="$MODELS_DIR/smollm2-135m-shape-$type.gguf"
  if [ "$FRESH" = 1 ] || [ ! -s "$path" ]; then
    echo "making $path" >&2
    "$BIN" make-model --out "$path" "${SHAPE[@]}" --vocab-from "$VOCAB" --type "$type" --seed 1 \
      --context-length 8192 --name "smollm2-135m-shape-$type" >&2
  fi
  models+=("$path")
  names+=("$type")
done

# bench MODEL PROMPT GEN BATCH -> one JSON line
bench() {
  "$BIN" bench --model "$1" --threads "$THREADS" --prompt-tokens "$2" --gen-tokens "$3" --batch "$4" \
    --repetitions "$REPS" --json
}

row() {  # row NAME MODEL PROMPT GEN
  local b1 bn
  b1="$(bench "$2" "$3" "$4" 1)"
  bn="$(bench "$2" "$3" "$4" "$BATCH")"
  python3 - "$1" "$b1" "$bn" "$3" "$4" <<'EOF'
import json, sys
name, b1, bn, p, g = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4], sys.argv[5]
ratio = bn.get("batch_speedup", 1.0)
rss = max(b1["rss_bytes"], bn["rss_bytes"]) / 2**20
print(f"{name:<26} {'pp' + p + '/tg' + g:>10} {b1['pp_tokens_per_s']:>10.1f} {b1['tg_tokens_per_s']:>10.1f} "
      f"{bn['tg_tokens_per_s']:>10.1f} {ratio:>7.2f}x {rss:>9.1f}")
EOF
}

echo "agentd bench: threads $THREADS, batch $BATCH, repetitions $REPS, $(uname -m), $(nproc) cores"
printf '%-26s %10s %10s %10s %10s %8s %9s\n' model test "pp tok/s" "tg b1" "tg b$BATCH" "b$BATCH/b1" "RSS MiB"
for i in "${!models[@]}"; do
  row "smollm2-135m-shape ${names[$i]}" "${models[$i]}" "$PROMPT" "$GEN"
done
# stories260K was trained for 128 positions: a shorter prompt keeps it inside.
row "stories260K (F32)" "$TESTDATA/models/stories260K.gguf" 64 32
