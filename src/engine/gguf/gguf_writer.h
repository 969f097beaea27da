#pragma once
// A small GGUF v3 writer: metadata of every type, tensors in any ggml
// encoding, data aligned to `general.alignment` (32 unless that key is set).
//
// Build it up with set_*() and add_tensor(), then write_file() or to_bytes().
// Metadata keys keep the order they were first set in; setting a key again
// replaces its value in place. Tensors are written in the order they were
// added; each one's data starts at a multiple of the alignment, as GgufFile
// and llama.cpp require.
//
// Tensor data is either given up front (bytes) or produced when the file is
// written by a fill callback, so a large model never has to sit in memory
// whole: only one tensor's bytes are held at a time.
//
// Ownership: the writer owns copies of every key, string and byte it is
// given. Thread-safety: none; use one writer from one thread.

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/gguf/gguf.h"
#include "engine/gguf/tensor_type.h"

namespace agentd::engine {

// Fills `dst` (exactly n_bytes, the tensor's encoded size) with a tensor's data.
using TensorFill = std::function<Status(uint8_t* dst, uint64_t n_bytes)>;

class GgufWriter {
 public:
  GgufWriter() = default;

  // --- metadata: one setter per GGUF value type ---
  void set_uint8(std::string_view key, uint8_t v);
  void set_int8(std::string_view key, int8_t v);
  void set_uint16(std::string_view key, uint16_t v);
  void set_int16(std::string_view key, int16_t v);
  void set_uint32(std::string_view key, uint32_t v);
  void set_int32(std::string_view key, int32_t v);
  void set_uint64(std::string_view key, uint64_t v);
  void set_int64(std::string_view key, int64_t v);
  void set_float32(std::string_view key, float v);
  void set_float64(std::string_view key, double v);
  void set_bool(std::string_view key, bool v);
  void set_string(std::string_view key, std::string_view v);

  // Arrays. `element` names the element type written to the file; values
  // outside its range are an error (reported by the setter).
  Status set_int_array(std::string_view key, GgufType element, std::span<const int64_t> values);
  Status set_float_array(std::string_view key, GgufType element, std::span<const double> values);
  void set_string_array(std::string_view key, std::span<const std::string_view> values);
  void set_string_array(std::string_view key, std::span<const std::string> values);

  // Copies one value read by GgufFile, keeping its exact type (for example
  // every tokenizer.* key of a vocabulary file).
  Status set_value(std::string_view key, const GgufValue& value);

  bool has_key(std::string_view key) const { return index_.count(key) != 0; }
  size_t metadata_count() const { return kv_.size(); }

  // --- tensors ---
  // dims in ggml order: dims[0] is the row length. Checks the name (1 to 63
  // bytes, unique), 1 to 4 dimensions, each > 0, a known type and a row
  // length that is a multiple of the type's block size.
  Status add_tensor(std::string_view name, TensorType type, std::vector<uint64_t> dims, std::string data);
  Status add_tensor(std::string_view name, TensorType type, std::vector<uint64_t> dims, TensorFill fill);
  size_t tensor_count() const { return tensors_.size(); }

  // Bytes the tensor data of `type` with these dims takes; 0 when invalid.
  static uint64_t tensor_bytes(TensorType type, std::span<const uint64_t> dims);

  // Writes the whole file to `path` (through a temporary file in the same
  // folder, renamed at the end, so a failed write leaves no half file).
  Status write_file(const std::string& path) const;
  // The whole file as bytes (tests, small files).
  StatusOr<std::string> to_bytes() const;

 private:
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<uint64_t> dims;
    uint64_t n_bytes = 0;
    std::string data;  // when fill is empty
    TensorFill fill;
  };

  // Stores `encoded` (u32 type + payload) under `key`.
  void put(std::string_view key, std::string encoded);
  Status check_tensor(std::string_view name, TensorType type, const std::vector<uint64_t>& dims,
                      uint64_t* n_bytes) const;
  StatusOr<uint64_t> alignment() const;
  // Header and tensor infos, padded to the alignment; sets *align.
  StatusOr<std::string> header(uint64_t* align) const;
  // Streams the file to `sink`.
  Status write(const std::function<Status(const void*, size_t)>& sink) const;

  std::vector<std::pair<std::string, std::string>> kv_;  // key -> encoded value
  std::map<std::string, size_t, std::less<>> index_;     // key -> position in kv_
  std::vector<Tensor> tensors_;
};

}  // namespace agentd::engine
