#pragma once
// The global functions a chat template can call: range, dict, namespace,
// raise_exception and strftime_now (the last two as Hugging Face adds them).

#include <string>
#include <unordered_map>

#include "engine/jinja/value.h"

namespace agentd::engine::jinja {

void add_builtins(std::unordered_map<std::string, Value>& globals);

}  // namespace agentd::engine::jinja
