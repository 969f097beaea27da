#pragma once
// Reasoning models (Qwen3, the DeepSeek-R1 distills) open their answer with
// a <think>...</think> block. ThinkFilter takes the generated text piece by
// piece and passes on the answer without that block and the whitespace
// around it, so a streamed answer and a whole one read the same; the tokens
// of the block still count as generated (usage and cost). Text that does not
// start with <think> passes through unchanged; a block cut short (max_tokens)
// leaves an empty answer.
//
// Not thread-safe: one filter per generation.

#include <string>
#include <string_view>

namespace agentd::model {

class ThinkFilter {
 public:
  // The part of `piece` the client may see now (text that might still turn
  // out to open a block is held back).
  std::string feed(std::string_view piece);
  // At the end of the generation: what was held back and is answer after all.
  std::string finish();
  // The whole filter over one text.
  static std::string strip(std::string_view text);

 private:
  enum class State { kStart, kThinking, kAfter, kPass };
  State state_ = State::kStart;
  std::string held_;
};

}  // namespace agentd::model
