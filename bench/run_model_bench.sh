#!/usr/bin/env bash
# Whole-model benchmark, agentd and llama.cpp side by side on the same files,
# threads and minutes. Makes random-weight models of real shapes with
# `agentd make-model` (the Llama SentencePiece vocabulary of testdata, padded
# to the real vocabulary size where the shape says so):
#   135m   SmolLM2-135M: dim 576, 30 layers, 9/3 heads, FFN 1536, vocab 32000
#   0.6b   Qwen3-0.6B:   dim 1024, 28 layers, 16/8 heads of 128, FFN 3072, vocab 151936, tied
#   1b     Llama-3.2-1B: dim 2048, 16 layers, 32/8 heads, FFN 8192, vocab 128256, tied
# and prints, per file: prompt processing (pp) and generation of one sequence
# (tg) for agentd and for llama.cpp with their ratio, the bytes of weights
# agentd's tg reads per second as a fraction of the machine's measured read
# bandwidth (bench/membw_bench), and agentd's BATCH sequences decoded together
# against one (tg bN / b1, measured by `agentd bench --batch` in the same
# process). stories260K (F32) ends the table.
#
#   bench/run_model_bench.sh [--fresh] [--shapes "135m 0.6b 1b"] [--types "Q4_K_M Q8_0 Q4_0"]
#
# Environment:
#   AGENTD_BIN   agentd binary (default: build/release/src/app/agentd, or the
#                first build*/src/app/agentd found)
#   MEMBW_BIN    bench/membw_bench beside it by default
#   LLAMA_REF    folder of ../shared/tools/llama-ref/setup.sh's tools (default
#                build/llama-ref, built there on first use); "none" leaves the
#                llama.cpp columns out
#   LLAMA_CPU    one of llama.cpp's CPU variants (haswell: AVX2 without
#                AVX-512), to hold it to the instruction set agentd gets from
#                AGENTD_ISA; default: the best its loader picks
#   MODELS_DIR   where the models go (default build/bench-models; kept and
#                reused between runs unless --fresh)
#   THREADS      threads for both engines (default: all cores)
#   PROMPT, GEN  prompt and generated tokens (default 128 and 64)
#   BATCH        sequences for the batched tg figure (default 8)
#   REPS         measured repetitions averaged per figure (default 1)
#
# Figures are only comparable within one run on one machine: read the ratios
# (bench/README.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTDATA="${AGENTD_TESTDATA_DIR:-$ROOT/../shared/testdata}"
SHAPES="135m 0.6b 1b"
TYPES="Q4_K_M Q8_0 Q4_0"
FRESH=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fresh) FRESH=1 ;;
    --shapes) SHAPES="$2"; shift ;;
    --types) TYPES="$2"; shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

BIN="${AGENTD_BIN:-}"
if [ -z "$BIN" ]; then
  for candidate in "$ROOT"/build/release/src/app/agentd "$ROOT"/build/src/app/agentd "$ROOT"/build*/src/app/agentd; do
    if [ -x "$candidate" ]; then BIN="$candidate"; break; fi
  done
fi
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  echo "no agentd binary: build it (scripts/test.sh release) or set AGENTD_BIN" >&2
  exit 1
fi
MEMBW_BIN="${MEMBW_BIN:-$(dirname "$(dirname "$(dirname "$BIN")")")/bench/membw_bench}"
MODELS_DIR="${MODELS_DIR:-$ROOT/build/bench-models}"
THREADS="${THREADS:-$(nproc)}"
PROMPT="${PROMPT:-128}"
GEN="${GEN:-64}"
BATCH="${BATCH:-8}"
REPS="${REPS:-1}"
VOCAB="$TESTDATA/vocab/ggml-vocab-llama-spm.gguf"
mkdir -p "$MODELS_DIR"

LLAMA_REF="${LLAMA_REF:-$ROOT/build/llama-ref}"
if [ "$LLAMA_REF" != none ] && [ ! -x "$LLAMA_REF/bin/bench" ]; then
  echo "building the reference llama.cpp in $LLAMA_REF" >&2
  bash "$ROOT/../shared/tools/llama-ref/setup.sh" "$LLAMA_REF" >&2
fi

# llama.cpp loads the best CPU variant found beside its libraries: a copy of
# the tools whose folder holds only LLAMA_CPU's keeps it to that variant.
if [ "$LLAMA_REF" != none ] && [ -n "${LLAMA_CPU:-}" ]; then
  only="$LLAMA_REF/only-$LLAMA_CPU"
  if [ ! -x "$only/bin/bench" ]; then
    mkdir -p "$only/bin" "$only/lib"
    cp "$LLAMA_REF"/lib/libggml-base.so "$LLAMA_REF"/lib/libggml.v0.5.0.so "$LLAMA_REF"/lib/libllama*.so \
      "$LLAMA_REF/lib/libggml-cpu-$LLAMA_CPU.so" "$only/lib/"
    g++ -std=c++17 -O2 -I"$LLAMA_REF/include" "$ROOT/../shared/tools/llama-ref/bench.cpp" -o "$only/bin/bench" \
      -L"$only/lib" -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so -l:libggml-base.so -ldl -Wl,-rpath,"$only/lib"
  fi
  LLAMA_REF="$only"
fi

shape_args() {
  case "$1" in
    135m) echo "--dim 576 --layers 30 --heads 9 --kv-heads 3 --ffn 1536" ;;
    0.6b) echo "--dim 1024 --layers 28 --heads 16 --kv-heads 8 --head-dim 128 --ffn 3072 --vocab-size 151936 --tied --rope-base 1000000" ;;
    1b) echo "--dim 2048 --layers 16 --heads 32 --kv-heads 8 --ffn 8192 --vocab-size 128256 --tied --rope-base 500000" ;;
    *) echo "unknown shape $1 (135m, 0.6b, 1b)" >&2; exit 2 ;;
  esac
}

model_path() {  # shape type
  local path="$MODELS_DIR/shape-$1-$2.gguf"
  if [ "$FRESH" = 1 ] || [ ! -s "$path" ]; then
    echo "making $path" >&2
    # shellcheck disable=SC2046
    "$BIN" make-model --out "$path" $(shape_args "$1") --vocab-from "$VOCAB" --type "$2" --seed 1 \
      --context-length 8192 --name "shape-$1-$2" >&2
  fi
  echo "$path"
}

BW=0
if [ -x "$MEMBW_BIN" ]; then
  BW=$("$MEMBW_BIN" "$THREADS" 512 5 | python3 -c 'import json, sys; print(json.load(sys.stdin)["gb_per_s"])')
fi

row() {  # name model prompt gen
  local b1 bn ref="{}"
  b1="$("$BIN" bench --model "$2" --threads "$THREADS" --prompt-tokens "$3" --gen-tokens "$4" --batch 1 \
    --repetitions "$REPS" --json)"
  bn="$("$BIN" bench --model "$2" --threads "$THREADS" --prompt-tokens "$3" --gen-tokens "$4" --batch "$BATCH" \
    --repetitions "$REPS" --json)"
  if [ "$LLAMA_REF" != none ]; then
    ref="$("$LLAMA_REF/bin/bench" "$2" "$THREADS" "$3" "$4" "$REPS" 2>/dev/null | tail -1)"
  fi
  python3 - "$1" "$2" "$b1" "$bn" "$ref" "$BW" <<'EOF'
import json, os, sys
name, path, b1, bn, ref, bw = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]), json.loads(sys.argv[5]), float(sys.argv[6])
pp, tg = b1["pp_tokens_per_s"], b1["tg_tokens_per_s"]
rpp, rtg = ref.get("pp"), ref.get("tg")
ratio = lambda a, b: f"{a / b:5.2f}x" if b else "    -"
num = lambda v: f"{v:8.1f}" if v else "       -"
# A decode step reads every weight once: the file's bytes are the weights (and a little metadata).
frac = f"{os.path.getsize(path) * tg / 1e9 / bw:5.0%}" if bw else "    -"
print(f"{name:<20} {pp:8.1f} {num(rpp)} {ratio(pp, rpp)}  {tg:7.1f} {num(rtg)} {ratio(tg, rtg)} {frac:>6}  "
      f"{bn['tg_tokens_per_s']:8.1f} {bn.get('batch_speedup', 1.0):6.2f}x")
EOF
}

isa="$(AGENTD_TESTDATA_DIR="$TESTDATA" bash "$ROOT/scripts/engine-isa.sh" "$BIN")"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), $(nproc) cores, agentd kernels $isa," \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "threads $THREADS, pp$PROMPT, tg$GEN, batch $BATCH, repetitions $REPS; read bandwidth ${BW} GB/s (membw_bench);" \
  "llama.cpp: ${LLAMA_CPU:-its best CPU variant}"
printf '%-20s %8s %8s %6s  %7s %8s %6s %6s  %8s %7s\n' model "pp" "llama" "ratio" "tg" "llama" "ratio" "of bw" \
  "tg b$BATCH" "b$BATCH/b1"
for shape in $SHAPES; do
  for type in $TYPES; do
    row "$shape $type" "$(model_path "$shape" "$type")" "$PROMPT" "$GEN"
  done
done
# stories260K was trained for 128 positions: a shorter prompt keeps it inside.
row "stories260K F32" "$TESTDATA/models/stories260K.gguf" 64 32
