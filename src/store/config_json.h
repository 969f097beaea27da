#pragma once
// The list-valued parts of an AgentConfig are stored as JSON text columns:
// demonstrations as [{"input","output"}] and input definitions as
// [{"key","data_type","description","example"}]. Both store backends use
// these, so a database written by one reads the same in the other.
// Thread-safety: pure functions.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/records.h"

namespace agentd::store {

std::string demonstrations_to_json(const std::vector<Demonstration>& demos);
// kDataLoss when `json` is not the shape written above (a corrupted row).
StatusOr<std::vector<Demonstration>> demonstrations_from_json(std::string_view json);

std::string input_definitions_to_json(const std::vector<InputDefinition>& defs);
StatusOr<std::vector<InputDefinition>> input_definitions_from_json(std::string_view json);

}  // namespace agentd::store
