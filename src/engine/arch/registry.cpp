#include "engine/arch/architecture.h"

#include "engine/arch/families.h"
#include "engine/gguf/gguf.h"

namespace agentd::engine {

namespace {

constexpr Architecture kArchitectures[] = {
    {"gemma", RopeStyle::kNeox, arch::configure_gemma},
    {"gemma2", RopeStyle::kNeox, arch::configure_gemma2},
    {"gemma3", RopeStyle::kNeox, arch::configure_gemma3},
    {"llama", RopeStyle::kNormal, arch::configure_llama},
    {"phi3", RopeStyle::kNeox, arch::configure_phi3},
    {"qwen2", RopeStyle::kNeox, arch::configure_qwen2},
    {"qwen3", RopeStyle::kNeox, arch::configure_qwen3},
    {"smollm3", RopeStyle::kNormal, arch::configure_smollm3},
};

}  // namespace

const Architecture* find_architecture(std::string_view name) {
  for (const Architecture& a : kArchitectures) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string architecture_names() {
  std::string names;
  for (const Architecture& a : kArchitectures) names += (names.empty() ? "" : ", ") + std::string(a.name);
  return names;
}

void uniform_layers(ModelConfig& c) { c.layers.assign(static_cast<size_t>(c.n_layer), LayerAttention{}); }

Hyperparameters::Hyperparameters(const GgufFile& file, std::string architecture, std::string what)
    : file_(file), architecture_(std::move(architecture)), what_(std::move(what)) {}

bool Hyperparameters::has(std::string_view suffix) const { return file_.find(key(suffix)) != nullptr; }

Status Hyperparameters::need_int(std::string_view suffix, int64_t lo, int64_t hi, int64_t& out) const {
  const std::string k = key(suffix);
  auto v = file_.get_int(k);
  if (!v) return Status::invalid_argument(what_ + ": metadata '" + k + "' is missing or not an integer");
  if (*v < lo || *v > hi) {
    return Status::invalid_argument(what_ + ": metadata '" + k + "' = " + std::to_string(*v) + " is out of range [" +
                                    std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  out = *v;
  return Status::ok();
}

bool Hyperparameters::has_tensor(std::string_view name) const { return file_.find_tensor(name) != nullptr; }

std::optional<double> Hyperparameters::get_float(std::string_view suffix) const { return file_.get_float(key(suffix)); }

Status Hyperparameters::optional_float(std::string_view suffix, double lo, double hi, float& out) const {
  const std::string k = key(suffix);
  if (file_.find(k) == nullptr) return Status::ok();
  auto v = file_.get_float(k);
  if (!v) return Status::invalid_argument(what_ + ": metadata '" + k + "' is not a number");
  if (!(*v >= lo && *v <= hi)) {
    return Status::invalid_argument(what_ + ": metadata '" + k + "' = " + std::to_string(*v) + " is out of range");
  }
  out = static_cast<float>(*v);
  return Status::ok();
}

}  // namespace agentd::engine
