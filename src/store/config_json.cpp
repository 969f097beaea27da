#include "store/config_json.h"

#include <boost/json.hpp>

namespace agentd::store {
namespace {

namespace json = boost::json;

// The array of objects in `text`, or kDataLoss naming `what`.
StatusOr<json::array> parse_array(std::string_view text, const char* what) {
  if (text.empty()) return json::array();  // rows written before a column existed
  // We wrote this text ourselves; strings that were not valid UTF-8 went in
  // as raw bytes (SQLite keeps them) and must come back the same way.
  json::parse_options options;
  options.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, json::storage_ptr(), options);
  if (ec) return Status::data_loss(std::string("stored ") + what + " are not valid JSON: " + ec.message());
  json::array* arr = v.if_array();
  if (arr == nullptr) return Status::data_loss(std::string("stored ") + what + " are not a JSON array");
  return std::move(*arr);
}

// Reads string member `key` of `obj` into `out`; a missing member leaves the default.
bool read_string(const json::object& obj, std::string_view key, std::string& out) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr) return true;
  const json::string* s = v->if_string();
  if (s == nullptr) return false;
  out.assign(s->data(), s->size());
  return true;
}

}  // namespace

std::string demonstrations_to_json(const std::vector<Demonstration>& demos) {
  json::array arr;
  arr.reserve(demos.size());
  for (const Demonstration& d : demos) {
    arr.push_back(json::object{{"input", d.input}, {"output", d.output}});
  }
  return json::serialize(arr);
}

StatusOr<std::vector<Demonstration>> demonstrations_from_json(std::string_view text) {
  AGENTD_ASSIGN_OR_RETURN(json::array arr, parse_array(text, "demonstrations"));
  std::vector<Demonstration> out;
  out.reserve(arr.size());
  for (const json::value& item : arr) {
    const json::object* obj = item.if_object();
    Demonstration d;
    if (obj == nullptr || !read_string(*obj, "input", d.input) || !read_string(*obj, "output", d.output)) {
      return Status::data_loss("stored demonstration is not an {input, output} object of strings");
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::string input_definitions_to_json(const std::vector<InputDefinition>& defs) {
  json::array arr;
  arr.reserve(defs.size());
  for (const InputDefinition& d : defs) {
    arr.push_back(json::object{{"key", d.key},
                               {"data_type", d.data_type},
                               {"description", d.description},
                               {"example", d.example}});
  }
  return json::serialize(arr);
}

StatusOr<std::vector<InputDefinition>> input_definitions_from_json(std::string_view text) {
  AGENTD_ASSIGN_OR_RETURN(json::array arr, parse_array(text, "input definitions"));
  std::vector<InputDefinition> out;
  out.reserve(arr.size());
  for (const json::value& item : arr) {
    const json::object* obj = item.if_object();
    InputDefinition d;
    if (obj == nullptr || !read_string(*obj, "key", d.key) || !read_string(*obj, "data_type", d.data_type) ||
        !read_string(*obj, "description", d.description) || !read_string(*obj, "example", d.example)) {
      return Status::data_loss("stored input definition is not an object of strings");
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace agentd::store
