// GGUF writer: what it writes, GgufFile reads back: every metadata type
// (scalars and arrays) with its exact type, tensors with their shapes, types,
// bytes and aligned offsets, a custom alignment. A shipped model rewritten
// through the writer (every key copied with set_value, every tensor's bytes)
// has the same size, the same tensor offsets and a byte-identical data
// section as the file llama.cpp wrote. Bad input gives a Status, not a file.

#include "engine/gguf/gguf_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/model.h"

namespace agentd::engine {
namespace {

const std::string kTestdata = AGENTD_TESTDATA_DIR;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::unique_ptr<GgufFile> parse(const GgufWriter& w) {
  auto bytes = w.to_bytes();
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  if (!bytes.is_ok()) return nullptr;
  auto f = GgufFile::from_bytes(std::move(bytes).value());
  EXPECT_TRUE(f.is_ok()) << f.status().to_string();
  return f.is_ok() ? std::move(f).value() : nullptr;
}

std::string f32_bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

TEST(GgufWriter, EveryScalarTypeReadsBackWithItsType) {
  GgufWriter w;
  w.set_uint8("u8", 200);
  w.set_int8("i8", -100);
  w.set_uint16("u16", 60000);
  w.set_int16("i16", -30000);
  w.set_uint32("u32", 4000000000u);
  w.set_int32("i32", -2000000000);
  w.set_uint64("u64", uint64_t{1} << 63);
  w.set_int64("i64", -(int64_t{1} << 40));
  w.set_float32("f32", 1.5f);
  w.set_float64("f64", 0.1);
  w.set_bool("t", true);
  w.set_bool("f", false);
  w.set_string("s", "h\xC3\xA9llo");
  w.set_string("empty", "");
  auto f = parse(w);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 14u);
  auto type_of = [&](const char* k) { return f->find(k)->type; };
  EXPECT_EQ(type_of("u8"), GgufType::kUint8);
  EXPECT_EQ(type_of("i8"), GgufType::kInt8);
  EXPECT_EQ(type_of("u16"), GgufType::kUint16);
  EXPECT_EQ(type_of("i16"), GgufType::kInt16);
  EXPECT_EQ(type_of("u32"), GgufType::kUint32);
  EXPECT_EQ(type_of("i32"), GgufType::kInt32);
  EXPECT_EQ(type_of("u64"), GgufType::kUint64);
  EXPECT_EQ(type_of("i64"), GgufType::kInt64);
  EXPECT_EQ(type_of("f32"), GgufType::kFloat32);
  EXPECT_EQ(type_of("f64"), GgufType::kFloat64);
  EXPECT_EQ(type_of("t"), GgufType::kBool);
  EXPECT_EQ(type_of("s"), GgufType::kString);
  EXPECT_EQ(f->get_int("u8"), 200);
  EXPECT_EQ(f->get_int("i8"), -100);
  EXPECT_EQ(f->get_int("u16"), 60000);
  EXPECT_EQ(f->get_int("i16"), -30000);
  EXPECT_EQ(f->get_int("u32"), 4000000000LL);
  EXPECT_EQ(f->get_int("i32"), -2000000000);
  EXPECT_EQ(std::get<uint64_t>(f->find("u64")->scalar), uint64_t{1} << 63);
  EXPECT_EQ(f->get_int("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(f->get_float("f32"), 1.5);
  EXPECT_EQ(f->get_float("f64"), 0.1);
  EXPECT_EQ(f->get_bool("t"), true);
  EXPECT_EQ(f->get_bool("f"), false);
  EXPECT_EQ(f->get_string("s"), "h\xC3\xA9llo");
  EXPECT_EQ(f->get_string("empty"), "");
  EXPECT_TRUE(f->tensors().empty());
}

TEST(GgufWriter, ArraysOfEveryElementTypeReadBack) {
  GgufWriter w;
  const std::vector<std::pair<GgufType, std::vector<int64_t>>> ints = {
      {GgufType::kUint8, {0, 255}},          {GgufType::kInt8, {-128, 127}},
      {GgufType::kUint16, {0, 65535}},       {GgufType::kInt16, {-32768, 32767}},
      {GgufType::kUint32, {0, 4294967295}},  {GgufType::kInt32, {-2147483648LL, 2147483647}},
      {GgufType::kUint64, {0, 1LL << 62}},   {GgufType::kInt64, {-(1LL << 62), 5}},
      {GgufType::kBool, {1, 0, 1}},
  };
  // (std::string("a") += ...: GCC 12 warns falsely on "a" + std::string&&.)
  auto key = [](size_t i) { return std::string("a").append(std::to_string(i)); };
  for (size_t i = 0; i < ints.size(); ++i) {
    ASSERT_TRUE(w.set_int_array(key(i), ints[i].first, ints[i].second).is_ok());
  }
  ASSERT_TRUE(w.set_float_array("f32", GgufType::kFloat32, std::vector<double>{0.5, -2.25, 1e-5}).is_ok());
  ASSERT_TRUE(w.set_float_array("f64", GgufType::kFloat64, std::vector<double>{0.1, -1e300}).is_ok());
  w.set_string_array("s", std::vector<std::string>{"a", "", "ccc"});
  ASSERT_TRUE(w.set_int_array("empty", GgufType::kInt32, std::vector<int64_t>{}).is_ok());
  auto f = parse(w);
  ASSERT_NE(f, nullptr);
  for (size_t i = 0; i < ints.size(); ++i) {
    const GgufValue* v = f->find(key(i));
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->type, GgufType::kArray);
    EXPECT_EQ(v->array_type, ints[i].first);
    EXPECT_EQ(v->ints, ints[i].second);
  }
  EXPECT_EQ(f->find("f32")->array_type, GgufType::kFloat32);
  EXPECT_EQ(f->find("f32")->floats, (std::vector<double>{0.5, -2.25, static_cast<double>(1e-5f)}));
  EXPECT_EQ(f->find("f64")->array_type, GgufType::kFloat64);
  EXPECT_EQ(f->find("f64")->floats, (std::vector<double>{0.1, -1e300}));
  EXPECT_EQ(f->find("s")->array_type, GgufType::kString);
  EXPECT_EQ(f->find("s")->strings, (std::vector<std::string_view>{"a", "", "ccc"}));
  EXPECT_EQ(f->find("empty")->array_size, 0u);
}

TEST(GgufWriter, OutOfRangeArrayValuesAndWrongElementTypesAreErrors) {
  GgufWriter w;
  EXPECT_FALSE(w.set_int_array("x", GgufType::kUint8, std::vector<int64_t>{256}).is_ok());
  EXPECT_FALSE(w.set_int_array("x", GgufType::kInt16, std::vector<int64_t>{-40000}).is_ok());
  EXPECT_FALSE(w.set_int_array("x", GgufType::kBool, std::vector<int64_t>{2}).is_ok());
  EXPECT_FALSE(w.set_int_array("x", GgufType::kFloat32, std::vector<int64_t>{1}).is_ok());
  EXPECT_FALSE(w.set_float_array("x", GgufType::kInt32, std::vector<double>{1}).is_ok());
  EXPECT_FALSE(w.has_key("x"));
}

TEST(GgufWriter, SettingAKeyAgainReplacesItInPlace) {
  GgufWriter w;
  w.set_uint32("a", 1);
  w.set_string("b", "x");
  w.set_string("a", "now a string");
  EXPECT_EQ(w.metadata_count(), 2u);
  auto f = parse(w);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->get_string("a"), "now a string");
  EXPECT_EQ(f->get_string("b"), "x");
}

TEST(GgufWriter, TensorsReadBackAlignedWithTheirBytes) {
  GgufWriter w;
  w.set_string("general.architecture", "test");
  // t0: F32 [3, 2] = 24 bytes, so t1 must be padded to offset 32.
  const std::vector<float> t0 = {1, 2, 3, 4, 5, -6};
  ASSERT_TRUE(w.add_tensor("t0", TensorType::kF32, {3, 2}, f32_bytes(t0)).is_ok());
  // t1: Q8_0 [64] = two 34-byte blocks, filled lazily.
  ASSERT_TRUE(w.add_tensor("t1", TensorType::kQ8_0, {64}, [](uint8_t* dst, uint64_t n) {
                 for (uint64_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(i * 7);
                 return Status::ok();
               }).is_ok());
  // t2: F16 [2, 3, 4, 5] (four dims), 240 bytes.
  ASSERT_TRUE(w.add_tensor("t2", TensorType::kF16, {2, 3, 4, 5}, std::string(240, '\x3c')).is_ok());
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.is_ok());
  auto fr = GgufFile::from_bytes(*bytes);
  ASSERT_TRUE(fr.is_ok()) << fr.status().to_string();
  const GgufFile& f = **fr;
  ASSERT_EQ(f.tensors().size(), 3u);
  const GgufTensorInfo& a = f.tensors()[0];
  const GgufTensorInfo& b = f.tensors()[1];
  const GgufTensorInfo& c = f.tensors()[2];
  EXPECT_EQ(a.name, "t0");
  EXPECT_EQ(a.type, TensorType::kF32);
  EXPECT_EQ(a.dims, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(a.offset, 0u);
  EXPECT_EQ(std::memcmp(a.data, t0.data(), 24), 0);
  EXPECT_EQ(b.type, TensorType::kQ8_0);
  EXPECT_EQ(b.offset, 32u);
  EXPECT_EQ(b.n_bytes, 68u);
  for (uint64_t i = 0; i < 68; ++i) ASSERT_EQ(b.data[i], static_cast<uint8_t>(i * 7)) << i;
  EXPECT_EQ(c.offset, 128u);  // 32 + 68 padded to 32
  EXPECT_EQ(c.dims, (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(c.n_bytes, 240u);
  EXPECT_EQ(c.data[239], 0x3c);
  // The data section itself starts on a 32-byte boundary of the file.
  EXPECT_EQ((a.data - f.base()) % 32, 0);
  EXPECT_EQ(bytes->size() % 32, 0u);
}

TEST(GgufWriter, CustomAlignmentIsHonoured) {
  GgufWriter w;
  w.set_uint32("general.alignment", 256);
  ASSERT_TRUE(w.add_tensor("a", TensorType::kF32, {5}, std::string(20, '\1')).is_ok());
  ASSERT_TRUE(w.add_tensor("b", TensorType::kF32, {300}, std::string(1200, '\2')).is_ok());
  ASSERT_TRUE(w.add_tensor("c", TensorType::kF32, {1}, std::string(4, '\3')).is_ok());
  auto f = parse(w);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->get_int("general.alignment"), 256);
  EXPECT_EQ(f->tensors()[1].offset, 256u);
  EXPECT_EQ(f->tensors()[2].offset, 256u + 1280u);
  EXPECT_EQ((f->tensors()[0].data - f->base()) % 256, 0);
  EXPECT_EQ(f->tensors()[2].data[0], 3);
}

TEST(GgufWriter, BadAlignmentAndBadTensorsAreErrors) {
  GgufWriter w;
  EXPECT_FALSE(w.add_tensor("", TensorType::kF32, {1}, std::string(4, '\0')).is_ok());
  EXPECT_FALSE(w.add_tensor(std::string(64, 'n'), TensorType::kF32, {1}, std::string(4, '\0')).is_ok());
  EXPECT_TRUE(w.add_tensor(std::string(63, 'n'), TensorType::kF32, {1}, std::string(4, '\0')).is_ok());
  EXPECT_EQ(w.add_tensor(std::string(63, 'n'), TensorType::kF32, {1}, std::string(4, '\0')).code(),
            StatusCode::kAlreadyExists);
  EXPECT_FALSE(w.add_tensor("z", TensorType::kF32, {}, std::string()).is_ok());
  EXPECT_FALSE(w.add_tensor("z", TensorType::kF32, {1, 1, 1, 1, 1}, std::string(4, '\0')).is_ok());
  EXPECT_FALSE(w.add_tensor("z", TensorType::kF32, {2, 0}, std::string()).is_ok());
  EXPECT_FALSE(w.add_tensor("z", TensorType::kF32, {2}, std::string(7, '\0')).is_ok());
  EXPECT_FALSE(w.add_tensor("z", TensorType::kQ4_0, {48}, std::string(36, '\0')).is_ok());  // 48 % 32 != 0
  EXPECT_FALSE(w.add_tensor("z", static_cast<TensorType>(77), {4}, std::string(4, '\0')).is_ok());
  EXPECT_FALSE(w.add_tensor("z", TensorType::kF32, {4}, TensorFill()).is_ok());
  EXPECT_EQ(w.tensor_count(), 1u);

  w.set_uint32("general.alignment", 24);
  EXPECT_FALSE(w.to_bytes().is_ok());
  w.set_uint64("general.alignment", 32);
  EXPECT_FALSE(w.to_bytes().is_ok());
  w.set_uint32("general.alignment", 32);
  EXPECT_TRUE(w.to_bytes().is_ok());

  GgufWriter failing;
  ASSERT_TRUE(failing.add_tensor("x", TensorType::kF32, {4}, [](uint8_t*, uint64_t) {
                       return Status::internal("no data");
                     }).is_ok());
  auto r = failing.to_bytes();
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'x'"), std::string::npos);
}

TEST(GgufWriter, WriteFileCreatesTheFileAndLeavesNoTemporary) {
  char dir_template[] = "/tmp/gguf_writer_testXXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/m.gguf";
  GgufWriter w;
  w.set_string("k", "v");
  ASSERT_TRUE(w.add_tensor("t", TensorType::kF32, {2}, f32_bytes({7, 8})).is_ok());
  ASSERT_TRUE(w.write_file(path).is_ok());
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ((*f)->get_string("k"), "v");
  EXPECT_EQ(reinterpret_cast<const float*>((*f)->tensors()[0].data)[1], 8.0f);
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);
  // A folder that does not exist: an error, not a crash.
  EXPECT_FALSE(w.write_file(std::string(dir_template) + "/no/such/m.gguf").is_ok());
  std::remove(path.c_str());
  ::rmdir(dir_template);
}

// The writer reproduces a file llama.cpp wrote: same keys and types, same
// tensors at the same offsets, byte-identical data, same total size.
TEST(GgufWriter, RewritesAShippedModelIdentically) {
  const std::string path = kTestdata + "/models/tiny-random-Q4_K_M.gguf";
  auto src = GgufFile::open(path);
  ASSERT_TRUE(src.is_ok()) << src.status().to_string();
  const GgufFile& in = **src;
  GgufWriter w;
  for (const auto& [key, value] : in.metadata()) ASSERT_TRUE(w.set_value(key, value).is_ok()) << key;
  for (const GgufTensorInfo& t : in.tensors()) {
    ASSERT_TRUE(w.add_tensor(t.name, t.type, t.dims, std::string(reinterpret_cast<const char*>(t.data), t.n_bytes))
                    .is_ok());
  }
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.is_ok());
  const std::string original = read_all(path);
  ASSERT_EQ(bytes->size(), original.size());
  auto out = GgufFile::from_bytes(*bytes);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  ASSERT_EQ((*out)->metadata().size(), in.metadata().size());
  for (const auto& [key, v] : in.metadata()) {
    const GgufValue* o = (*out)->find(key);
    ASSERT_NE(o, nullptr) << key;
    EXPECT_EQ(o->type, v.type) << key;
    EXPECT_EQ(o->array_type, v.array_type) << key;
    EXPECT_EQ(o->scalar, v.scalar) << key;
    EXPECT_EQ(o->strings, v.strings) << key;
    EXPECT_EQ(o->ints, v.ints) << key;
    EXPECT_EQ(o->floats, v.floats) << key;
  }
  ASSERT_EQ((*out)->tensors().size(), in.tensors().size());
  for (size_t i = 0; i < in.tensors().size(); ++i) {
    EXPECT_EQ((*out)->tensors()[i].offset, in.tensors()[i].offset) << in.tensors()[i].name;
  }
  const size_t data_start = static_cast<size_t>(in.tensors()[0].data - in.base()) - in.tensors()[0].offset;
  EXPECT_EQ(bytes->compare(data_start, std::string::npos, original, data_start, std::string::npos), 0);
  // And the engine loads it.
  auto model = Model::from_gguf(std::move(out).value());
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
}

}  // namespace
}  // namespace agentd::engine
