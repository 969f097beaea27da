// valid_utf8: valid text passes unchanged; every byte that does not start a
// valid sequence becomes U+FFFD (cut sequences, stray continuation bytes,
// overlong forms, surrogates, code points past U+10FFFF).

#include "common/utf8.h"

#include <gtest/gtest.h>

namespace agentd {
namespace {

TEST(Utf8, ValidTextIsUnchanged) {
  const std::string text = "plain, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80, \xF4\x8F\xBF\xBF";
  EXPECT_EQ(valid_utf8(text), text);
}

TEST(Utf8, EveryInvalidByteBecomesOneReplacement) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(valid_utf8("a\xC3"), "a" + r);                      // cut at the end
  EXPECT_EQ(valid_utf8("\x80z"), r + "z");                      // a stray continuation byte
  EXPECT_EQ(valid_utf8("\xC0\xAF"), r + r);                     // overlong '/'
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), r + r + r);             // a surrogate
  EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80"), r + r + r + r);     // past U+10FFFF
  EXPECT_EQ(valid_utf8("\xE2\x82x"), r + r + "x");              // a sequence cut by ASCII
}

}  // namespace
}  // namespace agentd
