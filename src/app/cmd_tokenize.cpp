// `agentd tokenize --model PATH [--add-special] [--parse-special] TEXT`:
// prints the token ids of TEXT as a JSON array. Works on any GGUF file with
// a vocabulary, including vocabulary-only files (no weights are read).

#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "app/commands.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace agentd::app {

namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  bool add_special = false;
  bool parse_special = false;
  bool show_pieces = false;
};

int run_tokenize(const TokenizeOptions& opt) {
  auto file = engine::GgufFile::open(opt.model);
  if (!file.is_ok()) {
    std::fprintf(stderr, "agentd tokenize: %s\n", file.status().to_string().c_str());
    return 1;
  }
  auto tok = engine::Tokenizer::from_gguf(**file);
  if (!tok.is_ok()) {
    std::fprintf(stderr, "agentd tokenize: %s: %s\n", opt.model.c_str(), tok.status().to_string().c_str());
    return 1;
  }
  for (const std::string& w : (*tok)->warnings()) std::fprintf(stderr, "agentd tokenize: warning: %s\n", w.c_str());

  const std::vector<int32_t> ids = (*tok)->encode(opt.text, opt.add_special, opt.parse_special);
  boost::json::array out;
  out.reserve(ids.size());
  for (int32_t id : ids) {
    if (opt.show_pieces) {
      out.push_back(boost::json::object{{"id", id}, {"piece", (*tok)->token_to_piece(id, true)}});
    } else {
      out.push_back(id);
    }
  }
  const std::string json = boost::json::serialize(out);
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto opt = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of TEXT as a JSON array");
  cmd->add_option("--model,-m", opt->model, "GGUF file (a vocabulary-only file is enough)")->required();
  cmd->add_flag("--add-special", opt->add_special, "Add BOS/EOS as the model asks");
  cmd->add_flag("--parse-special", opt->parse_special, "Turn control tokens written in TEXT (e.g. <|im_end|>) into their ids");
  cmd->add_flag("--pieces", opt->show_pieces, "Print {id, piece} objects instead of bare ids");
  cmd->add_option("text", opt->text, "Text to tokenize")->required();
  cmd->callback([opt] { exit_code() = run_tokenize(*opt); });
}

}  // namespace agentd::app
