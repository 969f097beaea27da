#pragma once
// Private to engine/arch/: each family file's configure functions, listed by
// registry.cpp.

#include "engine/arch/architecture.h"

namespace agentd::engine::arch {

Status configure_llama(const Hyperparameters& hp, ModelConfig& c);
Status configure_smollm3(const Hyperparameters& hp, ModelConfig& c);
Status configure_qwen2(const Hyperparameters& hp, ModelConfig& c);
Status configure_qwen3(const Hyperparameters& hp, ModelConfig& c);
Status configure_gemma(const Hyperparameters& hp, ModelConfig& c);
Status configure_gemma2(const Hyperparameters& hp, ModelConfig& c);
Status configure_gemma3(const Hyperparameters& hp, ModelConfig& c);
Status configure_phi3(const Hyperparameters& hp, ModelConfig& c);

}  // namespace agentd::engine::arch
