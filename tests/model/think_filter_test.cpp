#include "model/think_filter.h"

#include <gtest/gtest.h>

#include <string>

namespace agentd::model {
namespace {

// Every way of cutting `text` into two pieces gives the same answer as the
// whole text at once.
void expect_answer(const std::string& text, const std::string& answer) {
  EXPECT_EQ(ThinkFilter::strip(text), answer) << text;
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    ThinkFilter f;
    std::string out = f.feed(text.substr(0, cut));
    out += f.feed(text.substr(cut));
    out += f.finish();
    EXPECT_EQ(out, answer) << "cut at " << cut << " of " << text;
  }
  ThinkFilter one_byte;
  std::string out;
  for (char ch : text) out += one_byte.feed(std::string(1, ch));
  EXPECT_EQ(out + one_byte.finish(), answer) << "byte by byte: " << text;
}

TEST(ThinkFilter, DropsALeadingThinkBlockAndTheSpaceAroundIt) {
  expect_answer("<think>\nLet me see: 2 + 2.\n</think>\n\nFour.", "Four.");
  expect_answer("\n<think></think>\n\nHello <b>there</b>", "Hello <b>there</b>");
  expect_answer("<think>a < b, and </thin is not the end</think>Yes", "Yes");
}

TEST(ThinkFilter, PassesOtherTextUnchanged) {
  expect_answer("Hello", "Hello");
  expect_answer("  <thinking> is a tag", "  <thinking> is a tag");
  expect_answer("<thi", "<thi");  // only a prefix of <think>: text after all
  expect_answer("Hi <think>not at the start</think>", "Hi <think>not at the start</think>");
  expect_answer("", "");
}

TEST(ThinkFilter, ABlockCutShortLeavesNoAnswer) {
  expect_answer("<think>still thinking when max_tokens", "");
  expect_answer("<think>done</think>   ", "");
}

}  // namespace
}  // namespace agentd::model
