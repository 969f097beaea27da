#pragma once
// The Python methods templates call on values: str (strip, split, replace,
// startswith, format, ...), dict (items, keys, values, get) and list (index,
// count). Mutating methods (append, pop, update, ...) exist only to fail, as
// Jinja's immutable sandbox makes them fail. Also the string operations the
// filters share with these methods. Pure functions; thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/jinja/value.h"

namespace agentd::engine::jinja {

// `obj.name` as a bound method, or nullopt when the type has no such method.
std::optional<Value> bound_method(const Value& obj, std::string_view name);

// Python str.strip/lstrip/rstrip; `chars` null strips whitespace.
std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right);
// Python str.split(sep, maxsplit); a null `sep` splits on runs of whitespace.
std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit);
// Python str.replace(old, new, count); count < 0 replaces all. Fails rather
// than build a result longer than max_bytes.
StatusOr<std::string> py_replace(std::string_view s, std::string_view from, std::string_view to, int64_t count,
                                 size_t max_bytes);
// Python str.capitalize() and str.title().
std::string py_capitalize(std::string_view s);
std::string py_title(std::string_view s);

}  // namespace agentd::engine::jinja
