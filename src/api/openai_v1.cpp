// OpenAI-compatible routes (our extension), so any OpenAI SDK can call an
// agent or a model:
//   POST /v1/chat/completions {model, messages, stream,
//     stream_options.include_usage, stop, max_tokens | max_completion_tokens,
//     temperature, top_p, seed}. `model` names an agent (the client's
//     messages follow the agent's instructions and demonstrations) or, when
//     no active agent has that name, a model id of the configuration's
//     catalog: a model run, the client's messages alone (core/agent_runner.h;
//     recorded with no agent, under the model). An agent wins when both match.
//   GET /v1/models -> {object: "list", data: [{id, object: "model", created,
//     owned_by}]}: the organization's active agents (owned_by "agentd"), then
//     the catalog's models (owned_by "system", created 0) that no agent name
//     hides.
//   GET /metrics: the Prometheus text of the Core's registry. Unauthenticated
//     (as Prometheus scrapes by default): it holds counts, never keys, prompts
//     or organization names.
//   POST /v1/completions {model, prompt, stream, max_tokens, temperature,
//     top_p, seed, stop}: a model id continues `prompt` as is (no chat
//     template; local models only), an agent takes it as its message ->
//     {id, object: "text_completion", created, model, choices [{index,
//     text, finish_reason, logprobs: null}], usage}; streamed, the same
//     objects one piece of text each, then [DONE]. n, best_of, echo,
//     logprobs and suffix beyond their neutral values are refused by name.
//   POST /v1/embeddings {model, input, dimensions?, encoding_format?}: a
//     model whose backend embeds (an upstream's /embeddings); a local model
//     is a 400 naming it -> {object: "list", data [{object: "embedding",
//     index, embedding}], model, usage {prompt_tokens, total_tokens}}.
// Errors are OpenAI's shape {error {message, type, param, code}} with the
// HTTP status of the shared table (api/errors.h).
//
// Nugen's inference routes are the same three handlers under
// /api/v3/inference/{chat/completions, completions, embeddings} (each with
// and without a trailing slash), answering errors in Nugen's shape
// ({detail}; 422 for validation) and labelling runs "nugen.*".

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "api/agent_fields.h"
#include "api/dialects.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/run_common.h"
#include "common/utf8.h"

namespace agentd::api {
namespace {

namespace json = boost::json;

std::string_view error_type(StatusCode c) {
  switch (c) {
    case StatusCode::kInvalidArgument: return "invalid_request_error";
    case StatusCode::kUnauthenticated: return "authentication_error";
    case StatusCode::kPermissionDenied: return "permission_error";
    case StatusCode::kNotFound: return "not_found_error";
    case StatusCode::kRateLimited: return "rate_limit_error";
    case StatusCode::kInsufficientCredits: return "insufficient_quota";
    default: return "server_error";
  }
}

http::Response openai_error(const ApiError& e, const core::RateLimitInfo& limits = {}) {
  int status = http_status(Dialect::kRunAgent, e.status.code());
  std::string message = e.field.empty() ? e.status.message() : e.field + ": " + e.status.message();
  json::object err{{"message", message}, {"type", error_type(e.status.code())}, {"code", error_code(e)}};
  if (e.field.empty())
    err["param"] = nullptr;
  else
    err["param"] = e.field;
  http::Response r = json_response(status, json::object{{"error", err}});
  add_rate_limit_headers(r, limits);
  if (e.status.code() == StatusCode::kRateLimited && limits.retry_after_s <= 0) r.set_header("Retry-After", "1");
  if (e.status.code() == StatusCode::kUnavailable) r.set_header("Retry-After", "1");
  return r;
}

// How a family of routes answers errors: OpenAI's shape (/v1) or Nugen's
// (/api/v3/inference).
using ErrorWriter = http::Response (*)(const ApiError&, const core::RateLimitInfo&);

http::Response openai_error_writer(const ApiError& e, const core::RateLimitInfo& limits) {
  return openai_error(e, limits);
}

// Validation of a field is FastAPI's 422 {detail: [{loc, msg, type}]}; a
// well-formed request that cannot be served (a model that cannot embed, a
// prompt longer than the context) is 400 {detail: "..."}, as FastAPI apps
// raise HTTPException(400).
http::Response nugen_error_writer(const ApiError& e, const core::RateLimitInfo& limits) {
  const StatusCode c = e.status.code();
  if (c == StatusCode::kRateLimited || c == StatusCode::kUnavailable) return run_error(Dialect::kNugen, e.status, limits);
  if (c == StatusCode::kInvalidArgument && e.field.empty() && e.problem == Problem::kNone) {
    http::Response r = json_response(400, json::object{{"detail", e.status.message()}});
    add_rate_limit_headers(r, limits);
    return r;
  }
  http::Response r = error_response(Dialect::kNugen, e);
  add_rate_limit_headers(r, limits);
  return r;
}

// A byte string as JSON text (invalid UTF-8 replaced) and as its bytes.
json::object token_json(const std::string& token, double logprob) {
  json::array bytes;
  for (char c : token) bytes.push_back(static_cast<int64_t>(static_cast<unsigned char>(c)));
  return json::object{{"token", valid_utf8(token)}, {"logprob", logprob}, {"bytes", std::move(bytes)}};
}

// OpenAI's choices[].logprobs: {content: [{token, logprob, bytes,
// top_logprobs}], refusal: null}, or null when not asked.
json::value logprobs_json(const core::RunRequest& rr, const core::RunResult& r) {
  if (!rr.overrides.logprobs) return nullptr;
  json::array content;
  for (const model::TokenLogprob& t : r.logprobs) {
    json::object o = token_json(t.token, t.logprob);
    json::array top;
    for (const auto& [tok, lp] : t.top) top.push_back(token_json(tok, lp));
    o["top_logprobs"] = std::move(top);
    content.push_back(std::move(o));
  }
  return json::object{{"content", std::move(content)}, {"refusal", nullptr}};
}

json::object usage_json(const core::RunResult& r) {
  return json::object{{"prompt_tokens", r.input_tokens},
                      {"completion_tokens", r.output_tokens},
                      {"total_tokens", r.input_tokens + r.output_tokens}};
}

class OpenAiApi {
 public:
  // `label` prefixes the endpoint of run records and metrics ("openai.chat").
  OpenAiApi(core::Core& core, ErrorWriter error, std::string label)
      : core_(core), error_(error), label_(std::move(label)) {}

  std::optional<core::Principal> auth(const http::Request& req, http::Response& failure) {
    auto p = core_.auth().authenticate(req.header("authorization"));
    if (!p.is_ok()) {
      failure = error_(from_status(p.status()), {});
      return std::nullopt;
    }
    return *p;
  }

  http::Response chat(http::Request& req) {
    http::Response failure;
    auto p = auth(req, failure);
    if (!p) return failure;
    auto rr = std::make_shared<core::RunRequest>();
    bool stream = false;
    bool include_usage = false;
    if (!read_request(req, *p, *rr, stream, include_usage, failure)) return failure;
    std::string model = rr->agent_name;
    std::string id = "chatcmpl-" + req.request_id;
    int64_t created = unix_seconds();
    core::RateLimitInfo limits;
    http::Response resp;
    if (!stream) {
      auto result = core_.runner().run(*rr, &limits);
      if (!result.is_ok()) return error_(from_status(result.status()), limits);
      json::object message{{"role", "assistant"}, {"content", result->text}};
      if (!result->tool_calls.empty()) {
        if (result->text.empty()) message["content"] = nullptr;
        json::array calls;
        for (const model::ToolCall& c : result->tool_calls) {
          calls.push_back(json::object{{"id", c.id}, {"type", "function"},
                                       {"function", json::object{{"name", c.name}, {"arguments", c.arguments}}}});
        }
        message["tool_calls"] = std::move(calls);
      }
      json::object choice{{"index", 0}, {"message", message}, {"finish_reason", result->finish_reason}};
      choice["logprobs"] = logprobs_json(*rr, *result);
      resp = json_response(200, json::object{{"id", id},
                                             {"object", "chat.completion"},
                                             {"created", created},
                                             {"model", model},
                                             {"choices", json::array{choice}},
                                             {"usage", usage_json(*result)}});
      add_result_headers(resp, *result);
    } else {
      auto prepared = core_.runner().prepare(*rr, &limits);
      if (!prepared.is_ok()) return error_(from_status(prepared.status()), limits);
      core::AgentRunner& runner = core_.runner();
      resp = sse_response(std::move(prepared).value(), [&runner, id, created, model, include_usage, rr](
                                                           std::unique_ptr<core::PreparedRun> run, http::ChunkWriter& w) {
        auto chunk = [&](json::object delta, json::value finish, json::value logprobs = nullptr) {
          json::object choice{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}};
          choice["logprobs"] = std::move(logprobs);
          json::object o{{"id", id},
                         {"object", "chat.completion.chunk"},
                         {"created", created},
                         {"model", model},
                         {"choices", json::array{choice}}};
          if (include_usage) o["usage"] = nullptr;
          return sse_event("", o);
        };
        if (!w.write(chunk(json::object{{"role", "assistant"}, {"content", ""}}, nullptr))) return;
        auto result = runner.execute(std::move(run), [&](std::string_view text) {
          return w.write(chunk(json::object{{"content", text}}, nullptr));
        });
        if (!result.is_ok()) {
          const Status& s = result.status();
          json::object err{{"message", s.message()}, {"type", error_type(s.code())}, {"code", error_code(from_status(s))}};
          err["param"] = nullptr;
          w.write(sse_event("", json::object{{"error", err}}));
          w.write("data: [DONE]\n\n");
          return;
        }
        // Tool calls as OpenAI streams them: per call, a delta with its
        // index, id, type and name, then one with the arguments.
        for (size_t i = 0; i < result->tool_calls.size(); ++i) {
          const model::ToolCall& c = result->tool_calls[i];
          const auto index = static_cast<int64_t>(i);
          json::object head{{"index", index}, {"id", c.id}, {"type", "function"},
                            {"function", json::object{{"name", c.name}, {"arguments", ""}}}};
          if (!w.write(chunk(json::object{{"tool_calls", json::array{std::move(head)}}}, nullptr))) return;
          json::object args{{"index", index}, {"function", json::object{{"arguments", c.arguments}}}};
          if (!w.write(chunk(json::object{{"tool_calls", json::array{std::move(args)}}}, nullptr))) return;
        }
        // Logprobs, when asked, come with the last chunk: every token's at once.
        if (!w.write(chunk(json::object{}, json::value(result->finish_reason), logprobs_json(*rr, *result)))) return;
        if (include_usage) {
          w.write(sse_event("", json::object{{"id", id},
                                             {"object", "chat.completion.chunk"},
                                             {"created", created},
                                             {"model", model},
                                             {"choices", json::array{}},
                                             {"usage", usage_json(*result)}}));
        }
        w.write("data: [DONE]\n\n");
      });
    }
    add_rate_limit_headers(resp, limits);
    resp.log_org = p->org_id;
    return resp;
  }

  // OpenAI completions: `prompt` continued as is by a model (no chat
  // template), or, when `model` names an agent, the agent's message.
  http::Response completions(http::Request& req) {
    http::Response failure;
    auto p = auth(req, failure);
    if (!p) return failure;
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) return error_(err, {});
    FieldReader r(*body);
    core::RunRequest rr;
    auto model = r.string("model", true);
    std::vector<std::string> prompts;
    if (r.ok() && !r.has("prompt")) r.fail(missing_field("prompt"));
    if (r.ok() && !read_texts(body->at("prompt"), prompts)) r.fail(wrong_type("prompt", "string"));
    if (r.ok() && prompts.size() != 1) r.fail(invalid_value("prompt", "must be one text (one completion per request)"));
    if (r.ok() && prompts[0].empty()) r.fail(invalid_value("prompt", "must not be empty"));
    const bool stream = r.boolean("stream").value_or(false);
    read_sampling(*body, r, rr.overrides);
    refuse_unsupported(*body, r);
    read_grammar(r, rr.overrides);
    if (!r.ok()) return error_(r.error(), {});
    rr.principal = *p;
    rr.agent_name = *model;
    rr.model_fallback = true;
    rr.prompt = std::move(prompts[0]);
    rr.request_id = req.request_id;
    rr.endpoint = label_ + ".completions";

    const std::string id = "cmpl-" + req.request_id;
    const int64_t created = unix_seconds();
    auto completion = [id, created, model = *model](std::optional<std::string_view> text, json::value finish,
                                                   const core::RunResult* done) {
      json::object choice{{"index", 0}, {"text", text ? *text : std::string_view()}, {"finish_reason", finish}};
      choice["logprobs"] = nullptr;
      json::object o{{"id", id},
                     {"object", "text_completion"},
                     {"created", created},
                     {"model", model},
                     {"choices", json::array{std::move(choice)}}};
      if (done != nullptr) o["usage"] = usage_json(*done);
      return o;
    };
    core::RateLimitInfo limits;
    http::Response resp;
    if (!stream) {
      auto result = core_.runner().run(rr, &limits);
      if (!result.is_ok()) return error_(from_status(result.status()), limits);
      resp = json_response(200, completion(result->text, json::value(result->finish_reason), &*result));
      add_result_headers(resp, *result);
    } else {
      auto prepared = core_.runner().prepare(rr, &limits);
      if (!prepared.is_ok()) return error_(from_status(prepared.status()), limits);
      core::AgentRunner& runner = core_.runner();
      resp = sse_response(std::move(prepared).value(),
                          [&runner, completion](std::unique_ptr<core::PreparedRun> run, http::ChunkWriter& w) {
                            auto result = runner.execute(std::move(run), [&](std::string_view text) {
                              return w.write(sse_event("", completion(text, nullptr, nullptr)));
                            });
                            if (result.is_ok())
                              w.write(sse_event("", completion("", json::value(result->finish_reason), &*result)));
                            else if (result.status().code() != StatusCode::kCancelled)
                              w.write(sse_event("", json::object{{"error", {{"message", result.status().message()}}}}));
                            w.write("data: [DONE]\n\n");
                          });
    }
    add_rate_limit_headers(resp, limits);
    resp.log_org = p->org_id;
    return resp;
  }

  // OpenAI embeddings {model, input: text | [text], dimensions?,
  // encoding_format "float"} by a model whose backend embeds.
  http::Response embeddings(http::Request& req) {
    http::Response failure;
    auto p = auth(req, failure);
    if (!p) return failure;
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) return error_(err, {});
    FieldReader r(*body);
    core::EmbedRequest er;
    auto model = r.string("model", true);
    if (r.ok() && !r.has("input")) r.fail(missing_field("input"));
    if (r.ok() && !read_texts(body->at("input"), er.inputs)) r.fail(wrong_type("input", "string"));
    er.dimensions = r.integer("dimensions");
    if (auto format = r.string("encoding_format"); format && *format != "float")
      r.fail(invalid_value("encoding_format", "only \"float\" is supported"));
    if (!r.ok()) return error_(r.error(), {});
    er.principal = *p;
    er.model = *model;
    er.request_id = req.request_id;
    er.endpoint = label_ + ".embeddings";
    core::RateLimitInfo limits;
    auto result = core_.runner().embed(er, &limits);
    if (!result.is_ok()) return error_(from_status(result.status()), limits);
    json::array data;
    for (size_t i = 0; i < result->vectors.size(); ++i) {
      json::array v;
      for (double x : result->vectors[i]) v.push_back(x);
      data.push_back(json::object{{"object", "embedding"}, {"index", i}, {"embedding", std::move(v)}});
    }
    http::Response resp = json_response(
        200, json::object{{"object", "list"},
                          {"data", std::move(data)},
                          {"model", result->model_id},
                          {"usage", {{"prompt_tokens", result->input_tokens}, {"total_tokens", result->input_tokens}}}});
    add_rate_limit_headers(resp, limits);
    resp.log_org = p->org_id;
    return resp;
  }

  http::Response models(http::Request& req) {
    http::Response failure;
    auto p = auth(req, failure);
    if (!p) return failure;
    json::array data;
    store::AgentQuery q;
    q.limit = 500;
    q.include_inactive = false;
    for (;;) {
      auto page = core_.agents().list(p->org_id, q);
      if (!page.is_ok()) return openai_error(from_status(page.status()));
      for (const auto& v : page->items)
        data.push_back(json::object{{"id", v.agent.name},
                                    {"object", "model"},
                                    {"created", v.agent.created_ms / 1000},
                                    {"owned_by", "agentd"}});
      q.offset += static_cast<int64_t>(page->items.size());
      if (page->items.empty() || q.offset >= page->total) break;
    }
    const size_t agents = data.size();
    for (const model::ModelSpec& m : core_.models().all()) {
      bool hidden = false;
      for (size_t i = 0; i < agents && !hidden; ++i) hidden = data[i].as_object().at("id").as_string() == m.id;
      if (hidden) continue;
      data.push_back(json::object{{"id", m.id}, {"object", "model"}, {"created", 0}, {"owned_by", "system"}});
    }
    http::Response r = json_response(200, json::object{{"object", "list"}, {"data", data}});
    r.log_org = p->org_id;
    return r;
  }

  http::Response metrics(http::Request&) {
    http::Response r;
    r.status = 200;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = core_.metrics().render();
    return r;
  }

 private:
  static bool read_content(const json::value& v, std::string& out) {
    if (v.is_string()) {
      out = std::string(v.as_string());
      return true;
    }
    if (v.is_null()) return true;
    if (!v.is_array()) return false;
    for (const auto& part : v.as_array()) {
      if (!part.is_object()) return false;
      const auto& o = part.as_object();
      auto* text = o.if_contains("text");
      if (text && text->is_string()) out += std::string(text->as_string());
    }
    return true;
  }

  // temperature, top_p, max_tokens (or max_completion_tokens), seed, stop
  // (a string or an array of strings).
  static void read_sampling(const json::object& body, FieldReader& r, core::RunOverrides& o) {
    o.temperature = r.number("temperature");
    o.top_p = r.number("top_p");
    o.max_tokens = r.integer("max_completion_tokens");
    if (!o.max_tokens) o.max_tokens = r.integer("max_tokens");
    if (auto seed = r.integer("seed")) o.seed = static_cast<uint64_t>(*seed);
    if (!r.ok() || !r.has("stop")) return;
    std::vector<std::string> stop;
    if (!read_texts(body.at("stop"), stop)) r.fail(wrong_type("stop", "string"));
    o.stop = std::move(stop);
  }

  // A string or an array of strings.
  static bool read_texts(const json::value& v, std::vector<std::string>& out) {
    if (v.is_string()) {
      out.emplace_back(v.get_string());
      return true;
    }
    if (!v.is_array()) return false;
    for (const auto& x : v.get_array()) {
      if (!x.is_string()) return false;
      out.emplace_back(x.get_string());
    }
    return true;
  }

  // The chat fields beyond messages and sampling: response_format and the
  // penalties are honoured; user, metadata, store and service_tier only
  // inform (accepted, as OpenAI takes them); what agentd cannot do yet
  // (tools, logprobs, logit_bias, audio, n > 1, ...) and fields OpenAI does
  // not define are refused by name, never dropped.
  static void read_chat_options(const json::object& body, FieldReader& r, core::RunOverrides& o) {
    static const std::set<std::string_view> kKnown = {
        "model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens",
        "max_completion_tokens", "seed", "stop", "response_format", "n", "user", "metadata", "store",
        "service_tier", "frequency_penalty", "presence_penalty", "logprobs", "top_logprobs", "logit_bias", "tools",
        "tool_choice", "parallel_tool_calls", "functions", "function_call", "modalities", "audio", "prediction",
        "reasoning_effort", "web_search_options", "grammar"};
    for (const auto& kv : body) {
      if (kKnown.count(std::string_view(kv.key())) == 0) {
        r.fail(invalid_value(std::string(kv.key()), "unrecognized request argument"));
        return;
      }
    }
    auto present = [&](std::string_view key) {
      const json::value* v = body.if_contains(key);
      return v != nullptr && !v->is_null();
    };
    if (present("n") && as_int64(body.at("n")) != int64_t{1}) r.fail(invalid_value("n", "only n = 1 is supported"));
    for (const char* key : {"frequency_penalty", "presence_penalty"}) {
      if (auto v = r.number(key)) {
        if (!std::isfinite(*v) || *v < -2 || *v > 2) r.fail(invalid_value(key, "must be between -2 and 2"));
        (std::string_view(key) == "frequency_penalty" ? o.frequency_penalty : o.presence_penalty) = *v;
      }
    }
    o.logprobs = r.boolean("logprobs").value_or(false);
    if (auto top = r.integer("top_logprobs")) {
      if (*top < 0 || *top > 20) r.fail(invalid_value("top_logprobs", "must be between 0 and 20"));
      else if (!o.logprobs) r.fail(invalid_value("top_logprobs", "logprobs must be true when top_logprobs is used"));
      else o.top_logprobs = static_cast<int32_t>(*top);
    }
    if (const json::object* bias = r.object("logit_bias")) {
      for (const auto& kv : *bias) {
        const std::string id(kv.key());
        const bool numeric = !id.empty() && id.size() <= 9 && std::all_of(id.begin(), id.end(), [](char c) {
          return c >= '0' && c <= '9';
        });
        const double b = kv.value().is_number() ? kv.value().to_number<double>() : 1e9;
        if (!numeric) {
          r.fail(invalid_value("logit_bias", "keys must be token ids, not '" + id + "'"));
        } else if (!(b >= -100 && b <= 100)) {
          r.fail(invalid_value("logit_bias." + id, "must be a number between -100 and 100"));
        } else {
          o.logit_bias.emplace_back(std::stoi(id), b);
        }
      }
    }
    read_tools(body, r, o);
    if (const json::array* functions = r.array("functions"); functions != nullptr && !functions->empty()) {
      r.fail(invalid_value("functions", "the deprecated functions are not supported; send tools"));
    }
    if (present("function_call")) r.fail(invalid_value("function_call", "the deprecated function_call is not supported; send tool_choice"));
    if (const json::array* modalities = r.array("modalities")) {
      for (const auto& m : *modalities) {
        if (!(m.is_string() && m.get_string() == "text")) r.fail(invalid_value("modalities", "only \"text\" is supported"));
      }
    }
    for (const char* key : {"audio", "prediction", "reasoning_effort", "web_search_options"}) {
      if (present(key)) r.fail(invalid_value(key, std::string(key) + " is not supported"));
    }
    r.string("user");
    r.string("service_tier");
    r.boolean("store");
    if (const json::object* metadata = r.object("metadata")) {
      for (const auto& kv : *metadata) {
        if (!kv.value().is_string()) r.fail(wrong_type("metadata." + std::string(kv.key()), "string"));
      }
    }
    if (const json::object* rf = r.object("response_format")) {
      FieldReader fr(*rf, "response_format.");
      auto type = fr.string("type", true);
      if (fr.ok() && *type == "json_object") {
        o.format.kind = model::OutputFormat::Kind::kJsonObject;
      } else if (fr.ok() && *type == "json_schema") {
        const json::object* js = fr.object("json_schema", true);
        if (js != nullptr) {
          FieldReader jr(*js, "response_format.json_schema.");
          auto name = jr.string("name", true);
          jr.string("description");
          auto strict = jr.boolean("strict");
          const json::object* schema = jr.object("schema");
          if (jr.ok()) {
            o.format.kind = schema != nullptr ? model::OutputFormat::Kind::kJsonSchema
                                              : model::OutputFormat::Kind::kJsonObject;
            if (schema != nullptr) o.format.schema = json::serialize(*schema);
            o.format.name = *name;
            o.format.strict = strict.value_or(false);
          } else {
            fr.fail(jr.error());
          }
        }
      } else if (fr.ok() && *type != "text") {
        fr.fail(invalid_value("response_format.type", "must be text, json_object or json_schema"));
      }
      if (!fr.ok()) r.fail(fr.error());
    }
    read_grammar(r, o);
  }

  // OpenAI function tools: tools [{type: "function", function: {name,
  // description, parameters, strict}}], tool_choice and parallel_tool_calls.
  static void read_tools(const json::object& body, FieldReader& r, core::RunOverrides& o) {
    if (const json::array* tools = r.array("tools")) {
      for (size_t i = 0; r.ok() && i < tools->size(); ++i) {
        const std::string field = "tools[" + std::to_string(i) + "]";
        if (!(*tools)[i].is_object()) {
          r.fail(wrong_type(field, "object"));
          break;
        }
        FieldReader tr((*tools)[i].as_object(), field + ".");
        auto type = tr.string("type", true);
        if (tr.ok() && *type != "function") tr.fail(invalid_value(field + ".type", "only function tools are supported"));
        const json::object* fn = tr.object("function", true);
        model::ToolSpec spec;
        if (tr.ok()) {
          FieldReader fr(*fn, field + ".function.");
          auto name = fr.string("name", true);
          auto description = fr.string("description");
          const json::object* parameters = fr.object("parameters");
          fr.boolean("strict");
          if (fr.ok()) {
            const bool valid_name = !name->empty() && name->size() <= 64 &&
                                    std::all_of(name->begin(), name->end(), [](char c) {
                                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                                    });
            if (!valid_name) {
              fr.fail(invalid_value(field + ".function.name", "must be 1 to 64 letters, digits, '_' or '-'"));
            }
            for (const model::ToolSpec& t : o.tools) {
              if (t.name == *name) fr.fail(invalid_value(field + ".function.name", "two tools are named '" + *name + "'"));
            }
            spec.name = *name;
            spec.description = description.value_or("");
            spec.parameters = parameters != nullptr ? json::serialize(*parameters) : "{}";
          }
          if (!fr.ok()) tr.fail(fr.error());
        }
        if (!tr.ok()) {
          r.fail(tr.error());
          break;
        }
        o.tools.push_back(std::move(spec));
      }
    }
    if (const json::value* choice = body.if_contains("tool_choice"); choice != nullptr && !choice->is_null()) {
      using Kind = model::ToolChoice::Kind;
      if (choice->is_string() && choice->get_string() == "auto") {
        o.tool_choice.kind = Kind::kAuto;
      } else if (choice->is_string() && choice->get_string() == "none") {
        o.tool_choice.kind = Kind::kNone;
      } else if (choice->is_string() && choice->get_string() == "required") {
        o.tool_choice.kind = Kind::kRequired;
      } else if (choice->is_object() && choice->get_object().contains("function")) {
        FieldReader cr(choice->get_object(), "tool_choice.");
        const json::object* fn = cr.object("function", true);
        if (cr.ok()) {
          FieldReader fr(*fn, "tool_choice.function.");
          auto name = fr.string("name", true);
          if (fr.ok()) {
            o.tool_choice = {Kind::kNamed, *name};
            if (std::none_of(o.tools.begin(), o.tools.end(), [&](const model::ToolSpec& t) { return t.name == *name; })) {
              fr.fail(invalid_value("tool_choice.function.name", "no tool is named '" + *name + "'"));
            }
          }
          if (!fr.ok()) cr.fail(fr.error());
        }
        if (!cr.ok()) r.fail(cr.error());
      } else {
        r.fail(invalid_value("tool_choice", "must be \"auto\", \"none\", \"required\" or {type: \"function\", function: {name}}"));
      }
      if (o.tools.empty() && o.tool_choice.kind != Kind::kNone && o.tool_choice.kind != Kind::kAuto) {
        r.fail(invalid_value("tool_choice", "tool_choice is only allowed when tools are specified"));
      }
    }
    if (auto parallel = r.boolean("parallel_tool_calls")) o.parallel_tool_calls = *parallel;
  }

  // llama-server's `grammar` (GBNF text), on chat and text completions.
  static void read_grammar(FieldReader& r, core::RunOverrides& o) {
    auto grammar = r.string("grammar");
    if (!grammar || grammar->empty()) return;
    if (o.format.kind != model::OutputFormat::Kind::kText) {
      r.fail(invalid_value("grammar", "grammar and response_format cannot be combined"));
      return;
    }
    o.format.kind = model::OutputFormat::Kind::kGrammar;
    o.format.schema = *grammar;
  }

  // OpenAI fields agentd cannot honour: present with anything but their
  // neutral value is an error naming the field, never silently dropped.
  static void refuse_unsupported(const json::object& body, FieldReader& r) {
    auto is = [&](std::string_view key, auto neutral) {
      const json::value* v = body.if_contains(key);
      return v == nullptr || v->is_null() || neutral(*v);
    };
    auto one = [](const json::value& v) { return as_int64(v) == int64_t{1}; };
    auto no = [](const json::value& v) { return v.is_bool() && !v.get_bool(); };
    auto none = [](const json::value&) { return false; };
    if (!is("n", one)) r.fail(invalid_value("n", "only n = 1 is supported"));
    if (!is("best_of", one)) r.fail(invalid_value("best_of", "only best_of = 1 is supported"));
    if (!is("echo", no)) r.fail(invalid_value("echo", "echo is not supported"));
    if (!is("logprobs", no)) r.fail(invalid_value("logprobs", "logprobs are not returned by agentd"));
    if (!is("suffix", none)) r.fail(invalid_value("suffix", "suffix (insertion) is not supported"));
  }

  bool read_request(const http::Request& req, const core::Principal& p, core::RunRequest& rr, bool& stream,
                    bool& include_usage, http::Response& failure) {
    ApiError err;
    auto body = parse_object(req.body, err);
    if (!body) {
      failure = error_(err, {});
      return false;
    }
    FieldReader r(*body);
    auto model = r.string("model", true);
    const json::array* messages = r.array("messages", true);
    stream = r.boolean("stream").value_or(false);
    if (const json::object* so = r.object("stream_options")) {
      FieldReader sr(*so, "stream_options.");
      include_usage = sr.boolean("include_usage").value_or(false);
      if (!sr.ok()) r.fail(sr.error());
    }
    read_sampling(*body, r, rr.overrides);
    read_chat_options(*body, r, rr.overrides);
    if (r.ok() && messages) {
      if (messages->empty()) r.fail(invalid_value("messages", "must hold at least one message"));
      for (size_t i = 0; r.ok() && i < messages->size(); ++i) {
        std::string field = "messages[" + std::to_string(i) + "]";
        if (!(*messages)[i].is_object()) {
          r.fail(wrong_type(field, "object"));
          break;
        }
        FieldReader mr((*messages)[i].as_object(), field + ".");
        auto role = mr.string("role", true);
        if (!mr.ok()) {
          r.fail(mr.error());
          break;
        }
        model::Message m;
        m.role = *role == "developer" ? "system" : *role;
        if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
          r.fail(invalid_value(field + ".role", "must be system, developer, user, assistant or tool"));
          break;
        }
        const json::value* content = (*messages)[i].as_object().if_contains("content");
        if (content && !read_content(*content, m.content)) {
          r.fail(wrong_type(field + ".content", "string"));
          break;
        }
        if (m.role == "tool") {
          auto id = mr.string("tool_call_id", true);
          if (mr.ok()) m.tool_call_id = *id;
        }
        if (const json::array* calls = m.role == "assistant" ? mr.array("tool_calls") : nullptr) {
          for (size_t k = 0; mr.ok() && k < calls->size(); ++k) {
            const std::string cf = field + ".tool_calls[" + std::to_string(k) + "]";
            if (!(*calls)[k].is_object()) {
              mr.fail(wrong_type(cf, "object"));
              break;
            }
            FieldReader cr((*calls)[k].as_object(), cf + ".");
            auto id = cr.string("id", true);
            const json::object* fn = cr.object("function", true);
            if (cr.ok()) {
              FieldReader fr(*fn, cf + ".function.");
              auto name = fr.string("name", true);
              auto arguments = fr.string("arguments", true);
              if (fr.ok()) m.tool_calls.push_back({*id, *name, *arguments});
              else cr.fail(fr.error());
            }
            if (!cr.ok()) mr.fail(cr.error());
          }
        }
        if (!mr.ok()) {
          r.fail(mr.error());
          break;
        }
        rr.messages.push_back(std::move(m));
      }
    }
    if (!r.ok()) {
      failure = error_(r.error(), {});
      return false;
    }
    rr.principal = p;
    rr.agent_name = *model;
    rr.model_fallback = true;
    rr.request_id = req.request_id;
    rr.endpoint = label_ + ".chat";
    return true;
  }

  core::Core& core_;
  const ErrorWriter error_;
  const std::string label_;
};

}  // namespace

void register_openai_v1(http::Router& router, core::Core& core) {
  auto api = std::make_shared<OpenAiApi>(core, &openai_error_writer, "openai");
  router.add("POST", "/v1/chat/completions", [api](http::Request& r) { return api->chat(r); });
  router.add("POST", "/v1/completions", [api](http::Request& r) { return api->completions(r); });
  router.add("POST", "/v1/embeddings", [api](http::Request& r) { return api->embeddings(r); });
  router.add("GET", "/v1/models", [api](http::Request& r) { return api->models(r); });
  router.add("GET", "/metrics", [api](http::Request& r) { return api->metrics(r); });
}

void register_nugen_inference(http::Router& router, core::Core& core) {
  auto api = std::make_shared<OpenAiApi>(core, &nugen_error_writer, "nugen");
  for (const char* slash : {"", "/"}) {
    const std::string base = "/api/v3/inference";
    router.add("POST", base + "/chat/completions" + slash, [api](http::Request& r) { return api->chat(r); });
    router.add("POST", base + "/completions" + slash, [api](http::Request& r) { return api->completions(r); });
    router.add("POST", base + "/embeddings" + slash, [api](http::Request& r) { return api->embeddings(r); });
  }
}

}  // namespace agentd::api
