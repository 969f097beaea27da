#pragma once
// A Core on a fresh SQLite file in a temporary directory, with a fixed clock
// and two models, for the core tests.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/core.h"

namespace agentd::core::testing {

class FixedClock final : public Clock {
 public:
  int64_t now_ms() const override { return now; }
  int64_t now = 1700000000000;  // 2023-11-14T22:13:20Z
};

class CoreFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  model::ModelCatalog models_;
  FixedClock clock_;
  std::unique_ptr<Core> core_;
};

}  // namespace agentd::core::testing
