#include "api/agent_fields.h"

namespace agentd::api {

namespace json = boost::json;

std::optional<core::Principal> authenticate(core::Core& core, const http::Request& req, Dialect dialect,
                                            http::Response& failure) {
  auto p = core.auth().authenticate(req.header("authorization"));
  if (!p.is_ok()) {
    failure = error_response(dialect, p.status());
    if (p.status().code() == StatusCode::kUnauthenticated) failure.set_header("WWW-Authenticate", "Bearer");
    return std::nullopt;
  }
  return std::move(p).value();
}

namespace {

std::string element(FieldReader& reader, std::string_view key, size_t i) {
  return reader.field_name(key) + "[" + std::to_string(i) + "].";
}

struct DemonstrationKeys {
  std::string_view input, output;
};
DemonstrationKeys own_keys(DemonstrationShape shape) {
  if (shape == DemonstrationShape::kNugen) return {"user_input", "model_output"};
  return {"input", "output"};
}
DemonstrationKeys other_keys(DemonstrationShape shape) {
  return own_keys(shape == DemonstrationShape::kNugen ? DemonstrationShape::kInputOutput : DemonstrationShape::kNugen);
}

}  // namespace

std::optional<std::vector<store::Demonstration>> read_demonstrations(FieldReader& reader, std::string_view key,
                                                                     DemonstrationShape shape) {
  const json::array* arr = reader.array(key);
  if (!arr) return std::nullopt;
  std::vector<store::Demonstration> out;
  for (size_t i = 0; i < arr->size(); ++i) {
    const json::value& v = (*arr)[i];
    std::string prefix = element(reader, key, i);
    if (!v.is_object()) {
      reader.fail(wrong_type(prefix.substr(0, prefix.size() - 1), "object"));
      return std::nullopt;
    }
    FieldReader item(v.get_object(), prefix);
    store::Demonstration d;
    // The dialect's own key, else the other pair's (each side on its own).
    const DemonstrationKeys own = own_keys(shape), other = other_keys(shape);
    auto pick = [&](std::string_view mine, std::string_view theirs) {
      return item.string(item.has(mine) || !item.has(theirs) ? mine : theirs, true);
    };
    auto in = pick(own.input, other.input);
    auto outp = pick(own.output, other.output);
    if (!item.ok()) {
      reader.fail(item.error());
      return std::nullopt;
    }
    d.input = *in;
    d.output = *outp;
    out.push_back(std::move(d));
  }
  return out;
}

std::optional<std::vector<store::InputDefinition>> read_input_definitions(FieldReader& reader, std::string_view key) {
  const json::array* arr = reader.array(key);
  if (!arr) return std::nullopt;
  std::vector<store::InputDefinition> out;
  for (size_t i = 0; i < arr->size(); ++i) {
    const json::value& v = (*arr)[i];
    std::string prefix = element(reader, key, i);
    if (!v.is_object()) {
      reader.fail(wrong_type(prefix.substr(0, prefix.size() - 1), "object"));
      return std::nullopt;
    }
    FieldReader item(v.get_object(), prefix);
    store::InputDefinition d;
    auto k = item.string("key", true);
    auto type = item.string("data_type");
    auto desc = item.string("description");
    // Examples may be given as any JSON value; kept as text.
    std::string example;
    if (const json::value* ex = v.get_object().if_contains("example"); ex && !ex->is_null())
      example = ex->is_string() ? std::string(ex->get_string()) : json::serialize(*ex);
    if (!item.ok()) {
      reader.fail(item.error());
      return std::nullopt;
    }
    d.key = *k;
    if (type) d.data_type = *type;
    if (desc) d.description = *desc;
    d.example = std::move(example);
    out.push_back(std::move(d));
  }
  return out;
}

json::array demonstrations_json(const std::vector<store::Demonstration>& d, DemonstrationShape shape) {
  const DemonstrationKeys keys = own_keys(shape);
  json::array a;
  for (const auto& x : d) a.push_back(json::object{{keys.input, x.input}, {keys.output, x.output}});
  return a;
}

json::array input_definitions_json(const std::vector<store::InputDefinition>& d) {
  json::array a;
  for (const auto& x : d)
    a.push_back(json::object{
        {"key", x.key}, {"data_type", x.data_type}, {"description", x.description}, {"example", x.example}});
  return a;
}

}  // namespace agentd::api
