#pragma once
// Conversion between Boost.JSON and interpreter values, and Python's
// json.dumps() formatting for the tojson filter. Pure functions; thread-safe.

#include <optional>
#include <string>

#include <boost/json.hpp>

#include "common/status.h"
#include "engine/jinja/value.h"

namespace agentd::engine::jinja {

// JSON objects become dicts in the same key order; numbers become int (or
// float when they do not fit in int64) or float. Nesting deeper than 512
// levels is refused.
StatusOr<Value> from_json(const boost::json::value& json);

// json.dumps(value, ensure_ascii=..., indent=..., separators=..., sort_keys=...).
struct JsonStyle {
  std::optional<std::string> indent;  // one level of indentation; none = single line
  std::optional<std::string> item_separator;  // default ", " (or "," with indent)
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// Fails on values JSON cannot hold (undefined, callables) and on output
// longer than max_bytes.
StatusOr<std::string> to_json(const Value& value, const JsonStyle& style, size_t max_bytes);

}  // namespace agentd::engine::jinja
