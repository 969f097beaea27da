#!/usr/bin/env bash
# The main job: installs what is missing, builds agentd (Release) and starts
# the server on a default embedded set-up under ./data:
#   - data/agentd.toml      the configuration (written once; edit it freely)
#   - data/agentd.db        SQLite database
#   - model "tiny-q8"       declared from ../shared/testdata/models/tiny-random-Q8_0.gguf when it exists
#   - organization "demo", an API key (data/demo.key) and an agent "demo_agent"
# and prints a curl line to try. Environment: AGENTD_LISTEN (default 127.0.0.1:8080).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/agentd-ccache}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build/release agentd
bin="$root/build/release/src/app/agentd"

listen=${AGENTD_LISTEN:-127.0.0.1:8080}
data="$root/data"
mkdir -p "$data"
config="$data/agentd.toml"
model="$root/../shared/testdata/models/tiny-random-Q8_0.gguf"
if [ ! -f "$config" ]; then
  {
    echo "[server]"
    echo "listen = \"$listen\""
    echo "max_body_bytes = 1048576"
    echo
    echo "[storage]"
    echo "url = \"sqlite://$data/agentd.db\""
    if [ -f "$model" ]; then
      model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
      echo
      echo "[[models]]"
      echo "id = \"tiny-q8\""
      echo "name = \"Tiny Random Q8_0\""
      echo "backend = \"local\""
      echo "path = \"$model\""
      echo "context = 128           # this test model was trained for 128 positions"
      echo "price_input_per_mtok = 0.10"
      echo "price_output_per_mtok = 0.20"
    fi
  } >"$config"
  echo "run.sh: wrote $config"
fi

if ! "$bin" org show demo --config "$config" >/dev/null 2>&1; then
  "$bin" org create demo --credits 10 --config "$config" >/dev/null
  "$bin" key create --org demo --config "$config" | tail -n 1 >"$data/demo.key"
  chmod 600 "$data/demo.key"
  if grep -q 'id = "tiny-q8"' "$config"; then
    "$bin" agent create --org demo --name demo_agent --model tiny-q8 --max-tokens 48 \
      --instructions "You are a helpful assistant." --config "$config" | tail -n 1 >"$data/demo.agent"
  fi
fi
key=$(cat "$data/demo.key")
port=${listen##*:}
echo
echo "organization: demo    key: $key"
if [ -s "$data/demo.agent" ]; then
  agent=$(cat "$data/demo.agent")
  echo "agent: demo_agent ($agent) on model tiny-q8"
  echo "try:"
  echo "  curl -s -X POST http://127.0.0.1:$port/api/v3/agents/run-agents/demo_agent/run \\"
  echo "    -H 'Authorization: Bearer $key' -H 'Content-Type: application/json' -d '{\"message\": \"Hello\"}'"
  echo "  curl -s -H 'Authorization: Bearer $key' http://127.0.0.1:$port/api/v3/agents/$agent"
else
  echo "no model file found at $model: declare a [[models]] entry in $config to create agents"
  echo "try:"
  echo "  curl -s -H 'Authorization: Bearer $key' http://127.0.0.1:$port/api/v3/agents"
fi
echo
exec "$bin" serve --config "$config"
