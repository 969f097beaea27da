#pragma once
// The models agents may name, as declared in the configuration's [[models]].
// Immutable after start-up; safe to read from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace agentd::model {

struct ModelSpec {
  std::string id;                // what agents name as their model, e.g. "tiny-q8"
  std::string name;              // display name (Nugen base_model_name)
  std::string backend = "local"; // "local" (GGUF in-process) or "openai" (upstream)
  std::string path;              // local: GGUF file
  std::string base_url;          // openai: e.g. http://127.0.0.1:9000/v1
  std::string api_key_env;       // openai: environment variable holding the key
  std::string upstream_model;    // openai: model name sent upstream
  int context = 2048;            // tokens
  double price_input_per_mtok = 0.0;   // USD per million input tokens
  double price_output_per_mtok = 0.0;  // USD per million output tokens

  // local engine
  int threads = 0;                          // engine threads; <= 0: all cores
  int queue_depth = 64;                     // requests waiting for a free sequence; more get kUnavailable
  int parallel = 1;                         // sequences decoded at once
  int64_t cache_bytes = int64_t{256} << 20; // KV caches kept between turns (LRU by cache_key)
  bool share_prefixes = true;               // copy a prompt prefix from other requests' caches
  std::string chat_template_file;           // a Jinja chat template used instead of the GGUF's

  // openai upstream
  double connect_timeout_s = 5.0;
  double timeout_s = 120.0;  // whole exchange, streaming included
  int max_retries = 2;       // extra attempts on connection errors, 429 and 5xx (never after output)
};

class ModelCatalog {
 public:
  ModelCatalog() = default;
  explicit ModelCatalog(std::vector<ModelSpec> specs) : specs_(std::move(specs)) {}
  const ModelSpec* find(const std::string& id) const {
    for (const auto& s : specs_)
      if (s.id == id) return &s;
    return nullptr;
  }
  const std::vector<ModelSpec>& all() const { return specs_; }

 private:
  std::vector<ModelSpec> specs_;
};

}  // namespace agentd::model
