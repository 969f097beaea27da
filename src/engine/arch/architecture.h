#pragma once
// The families of decoder-only transformers the engine runs, one file each:
//   llama.cpp   llama (Llama 2/3, Mistral, TinyLlama, SmolLM2), smollm3
//   qwen.cpp    qwen2, qwen3
//   gemma.cpp   gemma, gemma2, gemma3 (text)
//   phi3.cpp    phi3 (Phi-3, Phi-3.5, Phi-4-mini)
// model.cpp reads the hyperparameters every family shares (widths, heads,
// context, RMS epsilon, RoPE base and linear scaling) and loads the tensors
// the configuration names; a family's `configure` then states what its files
// hold beyond that and how its block differs, in ModelConfig's block fields
// and one LayerAttention per layer.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/model.h"

namespace agentd::engine {

class GgufFile;

// The file's "<architecture>.*" metadata, read with checks; errors name the
// model and the key.
class Hyperparameters {
 public:
  Hyperparameters(const GgufFile& file, std::string architecture, std::string what);

  bool has(std::string_view key) const;
  bool has_tensor(std::string_view name) const;
  // `key` as an integer in [lo, hi]: missing, mistyped or out of range is an error.
  Status need_int(std::string_view key, int64_t lo, int64_t hi, int64_t& out) const;
  // An optional float in [lo, hi]: absent leaves `out` as it is.
  Status optional_float(std::string_view key, double lo, double hi, float& out) const;
  std::optional<double> get_float(std::string_view key) const;
  const std::string& what() const { return what_; }  // "model 'PATH'", for messages

 private:
  std::string key(std::string_view suffix) const { return architecture_ + "." + std::string(suffix); }
  const GgufFile& file_;
  std::string architecture_;
  std::string what_;
};

struct Architecture {
  std::string_view name;  // general.architecture
  RopeStyle rope_style;
  // Fills the family's block fields and c.layers (c.n_layer is known).
  Status (*configure)(const Hyperparameters& hp, ModelConfig& c);
};

// nullptr when the engine does not run `name`.
const Architecture* find_architecture(std::string_view name);
std::string architecture_names();  // "gemma, gemma2, ..." for messages

// Every layer attends alike: RoPE with frequencies 0, no window.
void uniform_layers(ModelConfig& c);

}  // namespace agentd::engine
