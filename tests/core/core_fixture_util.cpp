#include "core_fixture_util.h"

#include "common/ids.h"

namespace agentd::core::testing {

void CoreFixture::SetUp() {
  dir_ = std::filesystem::temp_directory_path() / ("agentd-core-" + random_hex(8));
  std::filesystem::create_directories(dir_);
  auto s = store::open_store("sqlite://" + (dir_ / "core.db").string());
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  store_ = std::move(s).value();
  model::ModelSpec a;
  a.id = "tiny-q8";
  a.name = "Tiny Random Q8_0";
  model::ModelSpec b;
  b.id = "stories";
  models_ = model::ModelCatalog({a, b});
  CoreOptions opts;
  opts.public_base_url = "http://127.0.0.1:1";
  opts.admin_org = "root";
  core_ = std::make_unique<Core>(*store_, models_, clock_, opts);
}

void CoreFixture::TearDown() {
  core_.reset();
  store_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace agentd::core::testing
