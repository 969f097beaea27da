// GGUF reader: every metadata type round-trips from a hand-built image, the
// shared models parse with the shapes their README states, and mutated images
// (truncations, flips, huge counts, bad types, offsets past the end) give
// clean errors or clean success, never a crash.

#include "engine/gguf/gguf.h"
#include "engine/model.h"

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

// ---------------------------------------------------------------- mutations

// Where the fields of a GGUF header sit, found by walking it independently
// of the reader under test.
struct FieldMap {
  std::vector<size_t> counts;        // u64 counts and lengths (n_tensors, n_kv, string/array lengths)
  std::vector<size_t> value_types;   // u32 metadata value and array element types
  std::vector<size_t> tensor_types;  // u32 tensor types
  std::vector<size_t> n_dims;        // u32
  std::vector<size_t> dims;          // u64
  std::vector<size_t> offsets;       // u64 tensor data offsets
  size_t header_end = 0;
};

FieldMap map_fields(const std::string& img) {
  FieldMap m;
  size_t pos = 8;
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, img.data() + at, 4);
    return v;
  };
  auto u64 = [&](size_t at) {
    uint64_t v;
    std::memcpy(&v, img.data() + at, 8);
    return v;
  };
  auto skip_string = [&]() {
    m.counts.push_back(pos);
    pos += 8 + u64(pos);
  };
  const uint64_t n_tensors = u64(pos);
  m.counts.push_back(pos);
  const uint64_t n_kv = u64(pos + 8);
  m.counts.push_back(pos + 8);
  pos += 16;
  const size_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  for (uint64_t i = 0; i < n_kv; ++i) {
    skip_string();
    const uint32_t t = u32(pos);
    m.value_types.push_back(pos);
    pos += 4;
    if (t == 8) {
      skip_string();
    } else if (t == 9) {
      const uint32_t et = u32(pos);
      m.value_types.push_back(pos);
      const uint64_t n = u64(pos + 4);
      m.counts.push_back(pos + 4);
      pos += 12;
      if (et == 8) {
        // Only the first few string lengths: enough targets, fewer copies.
        for (uint64_t j = 0; j < n; ++j) {
          if (j < 3) {
            skip_string();
          } else {
            pos += 8 + u64(pos);
          }
        }
      } else {
        pos += n * sizes[et];
      }
    } else {
      pos += sizes[t];
    }
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    skip_string();
    const uint32_t nd = u32(pos);
    m.n_dims.push_back(pos);
    pos += 4;
    for (uint32_t d = 0; d < nd; ++d) m.dims.push_back(pos + 8 * d);
    pos += 8 * nd;
    m.tensor_types.push_back(pos);
    m.offsets.push_back(pos + 4);
    pos += 12;
  }
  m.header_end = pos;
  return m;
}

// Parses the image; when it parses, loads it as a model; when that loads,
// runs two tokens through it. Everything must end in a Status.
void must_not_crash(std::string img, const std::string& what, int* parsed, int* loaded) {
  auto f = GgufFile::from_bytes(std::move(img));
  if (!f.is_ok()) {
    EXPECT_FALSE(f.status().message().empty()) << what;
    return;
  }
  ++*parsed;
  auto m = Model::from_gguf(std::move(f).value());
  if (!m.is_ok()) {
    EXPECT_FALSE(m.status().message().empty()) << what;
    return;
  }
  ++*loaded;
  auto cache = (*m)->new_cache(4);
  const std::vector<int32_t> ids = {1, 2};
  std::vector<float> logits;
  SequenceBatch sb{cache.get(), ids, false};
  (void)(*m)->forward({&sb, 1}, logits, nullptr);
}

template <typename T>
std::string with(const std::string& img, size_t at, T v) {
  std::string out = img;
  std::memcpy(out.data() + at, &v, sizeof(T));
  return out;
}

// Samples at most `n` of the positions (evenly spread), to bound the copies
// of large files.
std::vector<size_t> sample(const std::vector<size_t>& v, size_t n) {
  if (v.size() <= n) return v;
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(v[i * v.size() / n]);
  return out;
}

// max_per_kind bounds how many fields of each kind are mutated.
void mutate_model(const std::string& name, int random_flips, int truncations, size_t max_per_kind) {
  const std::string img = read_file(kModels + name + ".gguf");
  ASSERT_GT(img.size(), 1000u);
  FieldMap fm = map_fields(img);
  for (auto* v : {&fm.counts, &fm.value_types, &fm.tensor_types, &fm.n_dims, &fm.dims, &fm.offsets}) {
    *v = sample(*v, max_per_kind);
  }
  std::mt19937_64 rng(0x5eed);
  int parsed = 0, loaded = 0, cases = 0;
  auto run = [&](std::string m, const std::string& what) {
    ++cases;
    must_not_crash(std::move(m), name + ": " + what, &parsed, &loaded);
  };

  // Truncations: at every kind of field, plus random points in the data.
  std::vector<size_t> cuts = {0, 3, 4, 7, 8, 15, 16, 23, 24, fm.header_end, img.size() - 1};
  for (size_t v : fm.counts) cuts.push_back(v + 3);
  for (size_t v : fm.dims) cuts.push_back(v + 5);
  for (int i = 0; i < truncations; ++i) cuts.push_back(rng() % img.size());
  for (size_t c : cuts) {
    if (c < img.size()) run(img.substr(0, c), "truncated at " + std::to_string(c));
  }
  // Huge or zero counts and lengths.
  for (size_t at : fm.counts) {
    for (uint64_t v : {~uint64_t{0}, uint64_t{1} << 62, uint64_t{1} << 32, uint64_t{img.size()}}) {
      run(with(img, at, v), "count at " + std::to_string(at) + " = " + std::to_string(v));
    }
  }
  // Bad value types and tensor types.
  for (size_t at : fm.value_types) {
    for (uint32_t v : {9u, 13u, 0xFFFFFFFFu, 8u}) run(with(img, at, v), "value type at " + std::to_string(at));
  }
  for (size_t at : fm.tensor_types) {
    for (uint32_t v : {4u, 5u, 9u, 11u, 15u, 39u, 1000u, 0xFFFFFFFFu, 0u, 14u}) {
      run(with(img, at, v), "tensor type at " + std::to_string(at) + " = " + std::to_string(v));
    }
  }
  // Dimensions: zero, huge, overflowing products; dimension counts.
  for (size_t at : fm.dims) {
    for (uint64_t v : {uint64_t{0}, ~uint64_t{0}, uint64_t{1} << 40, uint64_t{1} << 31, uint64_t{7}}) {
      run(with(img, at, v), "dim at " + std::to_string(at));
    }
  }
  for (size_t at : fm.n_dims) {
    for (uint32_t v : {0u, 5u, 0xFFFFFFFFu}) run(with(img, at, v), "n_dims at " + std::to_string(at));
  }
  // Offsets past the end, misaligned, overflowing.
  for (size_t at : fm.offsets) {
    for (uint64_t v : {uint64_t{img.size()}, ~uint64_t{0} - 31, uint64_t{1}, uint64_t{img.size()} & ~uint64_t{31}}) {
      run(with(img, at, v), "offset at " + std::to_string(at));
    }
  }
  // Random flips, mostly in the header where they change meaning.
  for (int i = 0; i < random_flips; ++i) {
    std::string m = img;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      const size_t at = (i % 8 == 7) ? rng() % img.size() : rng() % fm.header_end;
      m[at] = static_cast<char>(m[at] ^ static_cast<char>(1 + rng() % 255));
    }
    run(std::move(m), "random flips #" + std::to_string(i));
  }
  // The unmutated file must still load (the harness can tell success).
  int p0 = 0, l0 = 0;
  must_not_crash(img, name, &p0, &l0);
  EXPECT_EQ(l0, 1) << name;
  std::printf("%s: %d mutations, %d parsed, %d loaded as a model\n", name.c_str(), cases, parsed, loaded);
}

TEST(GgufMutationTest, Stories260K) { mutate_model("stories260K", 250, 60, 16); }
TEST(GgufMutationTest, TinyRandomQ4_K_M) { mutate_model("tiny-random-Q4_K_M", 40, 10, 5); }

}  // namespace
}  // namespace agentd::engine
