#pragma once
// GGUF v2/v3 reader. The file is memory-mapped read-only; tensor data is
// served as pointers into the mapping, never copied. Every offset, size and
// count read from the file is checked against the mapping, so a truncated or
// corrupted file yields a Status that names the problem, never a crash.
//
// Thread-safety: a GgufFile is immutable after open(); all const methods may
// be called from any thread. Pointers it hands out live as long as it does.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"
#include "engine/gguf/tensor_type.h"

namespace agentd::engine {

// GGUF metadata value types, numbered as in the file format.
enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5,
  kFloat32 = 6, kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};

// One metadata value. Scalars are widened: integers to int64_t/uint64_t,
// floats to double. Arrays keep their element type; string arrays are views
// into the mapping (valid while the GgufFile lives).
struct GgufValue {
  GgufType type = GgufType::kUint8;
  GgufType array_type = GgufType::kUint8;  // element type when type == kArray
  std::variant<std::monostate, uint64_t, int64_t, double, bool, std::string_view> scalar;
  // Array payload: exactly one of these is filled, by element type.
  std::vector<std::string_view> strings;
  std::vector<int64_t> ints;      // all integer element types (and bool)
  std::vector<double> floats;     // float32/float64 elements
  uint64_t array_size = 0;
};

struct GgufTensorInfo {
  std::string name;
  TensorType type = TensorType::kF32;
  std::vector<uint64_t> dims;  // ne[0] is the innermost (row length), as in ggml
  uint64_t offset = 0;         // relative to the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
};

class GgufFile {
 public:
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  // Maps and parses `path`. Errors name the file and what is wrong.
  static StatusOr<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Parses an in-memory image (copied); for tests and fuzzing.
  static StatusOr<std::unique_ptr<GgufFile>> from_bytes(std::string bytes);

  uint32_t version() const { return version_; }
  const std::string& path() const { return path_; }

  const GgufValue* find(std::string_view key) const;
  // Typed getters: nullopt when the key is absent or of another kind.
  std::optional<int64_t> get_int(std::string_view key) const;    // any integer type
  std::optional<double> get_float(std::string_view key) const;   // float or integer
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string_view> get_string(std::string_view key) const;
  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return kv_; }

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

  // The whole mapped image (for writers and checks).
  const uint8_t* base() const { return base_; }
  uint64_t size() const { return size_; }

 private:
  GgufFile() = default;
  Status parse();

  std::string path_;
  std::string owned_;  // from_bytes image
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::map<std::string, GgufValue, std::less<>> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace agentd::engine
