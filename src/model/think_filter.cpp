#include "model/think_filter.h"

namespace agentd::model {

namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

size_t first_non_space(std::string_view s) {
  const size_t i = s.find_first_not_of(" \t\r\n");
  return i == std::string_view::npos ? s.size() : i;
}

}  // namespace

std::string ThinkFilter::feed(std::string_view piece) {
  switch (state_) {
    case State::kPass:
      return std::string(piece);
    case State::kStart: {
      held_ += piece;
      const std::string_view rest = std::string_view(held_).substr(first_non_space(held_));
      if (rest.size() >= kOpen.size() && rest.substr(0, kOpen.size()) == kOpen) {
        held_ = std::string(rest.substr(kOpen.size()));
        state_ = State::kThinking;
        return feed("");
      }
      if (kOpen.substr(0, rest.size()) == rest) return "";  // maybe the start of <think>
      state_ = State::kPass;
      std::string out;
      out.swap(held_);
      return out;
    }
    case State::kThinking: {
      held_ += piece;
      const size_t close = held_.find(kClose);
      if (close == std::string::npos) {
        // Keep only what could be the start of </think>.
        if (held_.size() > kClose.size()) held_.erase(0, held_.size() - kClose.size());
        return "";
      }
      held_.erase(0, close + kClose.size());
      state_ = State::kAfter;
      return feed("");
    }
    case State::kAfter: {
      held_ += piece;
      const size_t start = first_non_space(held_);
      if (start == held_.size()) {
        held_.clear();
        return "";
      }
      state_ = State::kPass;
      std::string out = held_.substr(start);
      held_.clear();
      return out;
    }
  }
  return "";
}

std::string ThinkFilter::finish() {
  std::string out;
  if (state_ == State::kStart) out.swap(held_);  // a prefix of <think> that was text after all
  held_.clear();
  state_ = State::kPass;
  return out;
}

std::string ThinkFilter::strip(std::string_view text) {
  ThinkFilter f;
  std::string out = f.feed(text);
  return out + f.finish();
}

}  // namespace agentd::model
