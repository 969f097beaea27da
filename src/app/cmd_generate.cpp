// `agentd generate --model PATH (--prompt TEXT | --prompt-ids 1,2,3) [--max-tokens N]
//   [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]
//   [--seed S] [--threads N] [--ctx-size N] [--stop S]... [--json-schema FILE]
//   [--grammar FILE] [--runs N] [--json]`
// Runs the local engine on one prompt. With --json it prints one object
//   {"prompt_ids": [...], "steps": [{"id": N, "top5": [[id, logit], ...]}, ...],
//    "text": "...", "finish": "length" | "stop" | "eog"}
// (the shape of testdata's golden lines; top5 are raw logits); otherwise it
// streams the generated text. Greedy unless a temperature is given.
// --json-schema constrains the text to the schema's JSON (engine/grammar;
// a schema it cannot enforce is an error naming the keyword); --grammar
// does the same with a GBNF grammar file (llama.cpp's format). --runs N
// generates N times with seeds S, S+1, ... (one line each).

#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "common/utf8.h"
#include "engine/generator.h"
#include "engine/grammar/gbnf.h"
#include "engine/grammar/json_schema.h"
#include "engine/model.h"
#include "engine/thread_pool.h"
#include "engine/tokenizer/tokenizer.h"

namespace agentd::app {

namespace {

struct GenerateCliOptions {
  std::string model;
  std::optional<std::string> prompt;
  std::optional<std::string> prompt_ids;
  int32_t max_tokens = 32;
  float temperature = 0.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repeat_penalty = 1.0f;
  uint64_t seed = 0;
  bool seed_given = false;
  int threads = 0;
  int64_t ctx_size = 0;
  std::vector<std::string> stop;
  bool json = false;
  bool ignore_eos = false;
  std::string json_schema;  // a file
  std::string grammar;      // a GBNF file
  int runs = 1;
};

StatusOr<std::vector<int32_t>> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  size_t at = 0;
  while (at <= s.size()) {
    size_t end = s.find(',', at);
    if (end == std::string::npos) end = s.size();
    size_t b = at, e = end;
    while (b < e && s[b] == ' ') ++b;
    while (e > b && s[e - 1] == ' ') --e;
    int32_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + b, s.data() + e, v);
    if (b == e || ec != std::errc() || p != s.data() + e) {
      return Status::invalid_argument("--prompt-ids: '" + s.substr(b, e - b) + "' is not a token id");
    }
    ids.push_back(v);
    at = end + 1;
  }
  return ids;
}

int fail(const Status& s) {
  std::fprintf(stderr, "agentd generate: %s\n", s.to_string().c_str());
  return 1;
}

void print_json(const std::vector<int32_t>& prompt, const engine::GenerateResult& result);

int run_generate(const GenerateCliOptions& opt) {
  auto model = engine::Model::load(opt.model);
  if (!model.is_ok()) return fail(model.status());
  auto tok = engine::Tokenizer::from_gguf((*model)->gguf());
  if (!tok.is_ok()) return fail(tok.status());

  std::vector<int32_t> prompt;
  if (opt.prompt_ids) {
    auto ids = parse_ids(*opt.prompt_ids);
    if (!ids.is_ok()) return fail(ids.status());
    prompt = std::move(ids).value();
  } else {
    prompt = (*tok)->encode(*opt.prompt, /*add_special=*/true, /*parse_special=*/true);
  }

  engine::GenerateOptions go;
  go.max_tokens = opt.max_tokens;
  go.sampling.temperature = opt.temperature;
  go.sampling.top_k = opt.top_k;
  go.sampling.top_p = opt.top_p;
  go.sampling.min_p = opt.min_p;
  go.sampling.repeat_penalty = opt.repeat_penalty;
  go.sampling.seed = opt.seed_given ? opt.seed : std::random_device{}();
  go.stop = opt.stop;
  go.ignore_eos = opt.ignore_eos;
  go.top_logits = opt.json ? 5 : 0;
  if (!opt.json_schema.empty() || !opt.grammar.empty()) {
    const std::string& path = opt.json_schema.empty() ? opt.grammar : opt.json_schema;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return fail(Status::not_found("cannot read " + path));
    std::string text;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
    StatusOr<std::shared_ptr<const engine::grammar::Grammar>> grammar = Status::internal("unset");
    if (!opt.grammar.empty()) {
      grammar = engine::grammar::compile_gbnf(text);
    } else {
      boost::system::error_code ec;
      const boost::json::value schema = boost::json::parse(text, ec);
      if (ec) return fail(Status::invalid_argument(path + " is not JSON: " + ec.message()));
      grammar = engine::grammar::compile_json_schema(schema);
    }
    if (!grammar.is_ok()) return fail(grammar.status());
    go.constraint = std::make_shared<engine::grammar::TokenConstraint>(
        *grammar, engine::grammar::TokenVocabulary::from_tokenizer(**tok));
  }

  const int threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  engine::ThreadPool pool(threads);
  auto cache = (*model)->new_cache(opt.ctx_size);
  engine::Generator gen(**model, tok->get(), &pool);

  engine::StepCallback stream;
  if (!opt.json) {
    stream = [](std::string_view text, const engine::GeneratedStep&) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  for (int run = 0; run < opt.runs; ++run) {
    auto result = gen.generate(*cache, prompt, go, stream);
    if (!result.is_ok()) return fail(result.status());
    ++go.sampling.seed;
    if (!opt.json) {
      std::fputc('\n', stdout);
      continue;
    }
    print_json(prompt, *result);
  }
  return 0;
}

void print_json(const std::vector<int32_t>& prompt, const engine::GenerateResult& result) {
  const engine::GenerateResult* r = &result;
  boost::json::object out;
  boost::json::array ids;
  for (int32_t id : prompt) ids.push_back(id);
  out["prompt_ids"] = std::move(ids);
  boost::json::array steps;
  for (const engine::GeneratedStep& s : r->steps) {
    boost::json::array top;
    for (const auto& [id, logit] : s.top) top.push_back(boost::json::array{id, static_cast<double>(logit)});
    steps.push_back(boost::json::object{{"id", s.id}, {"top5", std::move(top)}});
  }
  out["steps"] = std::move(steps);
  out["text"] = valid_utf8(r->text);
  out["finish"] = engine::finish_reason_name(r->finish);
  const std::string json = boost::json::serialize(out);
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

void register_generate(CLI::App& app) {
  auto opt = std::make_shared<GenerateCliOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a GGUF model with the local engine");
  cmd->add_option("--model,-m", opt->model, "GGUF model file")->required();
  auto* p = cmd->add_option("--prompt,-p", opt->prompt, "Prompt text (BOS added as the model asks)");
  auto* ids = cmd->add_option("--prompt-ids", opt->prompt_ids, "Prompt as token ids: 1,2,3");
  p->excludes(ids);
  ids->excludes(p);
  cmd->add_option("--max-tokens,-n", opt->max_tokens, "Tokens to generate at most")->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--temperature,--temp", opt->temperature, "0 is greedy");
  cmd->add_option("--top-k", opt->top_k, "0: off");
  cmd->add_option("--top-p", opt->top_p, "1: off");
  cmd->add_option("--min-p", opt->min_p, "0: off");
  cmd->add_option("--repeat-penalty", opt->repeat_penalty, "1: off");
  cmd->add_option("--seed", opt->seed, "Sampling seed (random when absent)")->each([opt](const std::string&) {
    opt->seed_given = true;
  });
  cmd->add_option("--threads,-t", opt->threads, "Worker threads (default: all cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("--ctx-size,-c", opt->ctx_size, "Context length (default: the model's)");
  cmd->add_option("--stop", opt->stop, "Stop string (repeatable); never printed");
  cmd->add_flag("--ignore-eos", opt->ignore_eos, "Keep generating past end-of-generation tokens");
  auto* schema_opt = cmd->add_option("--json-schema", opt->json_schema, "Constrain the text to this JSON Schema (a file)");
  cmd->add_option("--grammar", opt->grammar, "Constrain the text to this GBNF grammar (a file)")->excludes(schema_opt);
  cmd->add_option("--runs", opt->runs, "Generate this many times, seeds S, S+1, ...")->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", opt->json, "Print {prompt_ids, steps[{id, top5}], text} as one JSON object");
  cmd->callback([opt] {
    if (!opt->prompt && !opt->prompt_ids) {
      std::fprintf(stderr, "agentd generate: one of --prompt or --prompt-ids is required\n");
      exit_code() = 2;
      return;
    }
    exit_code() = run_generate(*opt);
  });
}

}  // namespace agentd::app
