#include "common/status.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/ids.h"

namespace agentd {
namespace {

StatusOr<int> half(int x) {
  if (x % 2) return Status::invalid_argument("odd");
  return x / 2;
}

Status quarter(int x, int* out) {
  AGENTD_ASSIGN_OR_RETURN(int h, half(x));
  AGENTD_ASSIGN_OR_RETURN(int q, half(h));
  *out = q;
  return Status::ok();
}

TEST(Status, PropagatesErrors) {
  int out = 0;
  EXPECT_TRUE(quarter(8, &out).is_ok());
  EXPECT_EQ(out, 2);
  Status s = quarter(6, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.to_string(), "INVALID_ARGUMENT: odd");
}

TEST(Ids, UuidShapeAndUniqueness) {
  std::string a = new_uuid(), b = new_uuid();
  EXPECT_TRUE(looks_like_uuid(a));
  EXPECT_NE(a, b);
  EXPECT_EQ(a[14], '4');
  EXPECT_FALSE(looks_like_uuid("not-a-uuid"));
}

TEST(Ids, Sha256KnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Clock, Iso8601) {
  EXPECT_EQ(format_iso8601(1705314600123), "2024-01-15T10:30:00.123Z");
}

}  // namespace
}  // namespace agentd
