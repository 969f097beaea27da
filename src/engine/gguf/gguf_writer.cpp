// GGUF v3 writer. Layout (little-endian, as the reader in gguf.cpp expects):
//   "GGUF" u32 3 u64 n_tensors u64 n_kv
//   n_kv x { string key, u32 type, value }
//   n_tensors x { string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset }
//   zero padding to the alignment, then each tensor's data, each padded to
//   the alignment (offsets are relative to the start of the data section).

#include "engine/gguf/gguf_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

namespace agentd::engine {

namespace {

constexpr uint32_t kVersion = 3;
constexpr size_t kMaxName = 63;  // GGML_MAX_NAME (64) less the terminating NUL
constexpr uint32_t kDefaultAlignment = 32;

template <typename T>
void append(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void append_string(std::string& out, std::string_view s) {
  append<uint64_t>(out, s.size());
  out.append(s);
}

void append_type(std::string& out, GgufType t) { append<uint32_t>(out, static_cast<uint32_t>(t)); }

template <typename T>
std::string scalar(GgufType t, T v) {
  std::string out;
  append_type(out, t);
  append<T>(out, v);
  return out;
}

// Appends integer `v` as element type `t`; false if out of range.
bool append_int(std::string& out, GgufType t, int64_t v) {
  auto in = [v](int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  switch (t) {
    case GgufType::kUint8: if (!in(0, 255)) return false; append<uint8_t>(out, static_cast<uint8_t>(v)); return true;
    case GgufType::kInt8: if (!in(-128, 127)) return false; append<int8_t>(out, static_cast<int8_t>(v)); return true;
    case GgufType::kUint16:
      if (!in(0, 65535)) return false;
      append<uint16_t>(out, static_cast<uint16_t>(v));
      return true;
    case GgufType::kInt16:
      if (!in(-32768, 32767)) return false;
      append<int16_t>(out, static_cast<int16_t>(v));
      return true;
    case GgufType::kUint32:
      if (!in(0, 4294967295LL)) return false;
      append<uint32_t>(out, static_cast<uint32_t>(v));
      return true;
    case GgufType::kInt32:
      if (!in(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max())) return false;
      append<int32_t>(out, static_cast<int32_t>(v));
      return true;
    // The reader widens u64 elements into int64_t; the bit pattern survives.
    case GgufType::kUint64: append<uint64_t>(out, static_cast<uint64_t>(v)); return true;
    case GgufType::kInt64: append<int64_t>(out, v); return true;
    case GgufType::kBool: if (!in(0, 1)) return false; append<uint8_t>(out, static_cast<uint8_t>(v)); return true;
    default: return false;
  }
}

bool is_int_type(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kUint16: case GgufType::kInt16:
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kUint64: case GgufType::kInt64:
    case GgufType::kBool:
      return true;
    default:
      return false;
  }
}

uint64_t pad_to(uint64_t n, uint64_t align) { return (align - n % align) % align; }

std::string array_header(GgufType element, uint64_t n) {
  std::string out;
  append_type(out, GgufType::kArray);
  append_type(out, element);
  append<uint64_t>(out, n);
  return out;
}

}  // namespace

void GgufWriter::put(std::string_view key, std::string encoded) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    kv_[it->second].second = std::move(encoded);
    return;
  }
  index_.emplace(std::string(key), kv_.size());
  kv_.emplace_back(std::string(key), std::move(encoded));
}

void GgufWriter::set_uint8(std::string_view key, uint8_t v) { put(key, scalar(GgufType::kUint8, v)); }
void GgufWriter::set_int8(std::string_view key, int8_t v) { put(key, scalar(GgufType::kInt8, v)); }
void GgufWriter::set_uint16(std::string_view key, uint16_t v) { put(key, scalar(GgufType::kUint16, v)); }
void GgufWriter::set_int16(std::string_view key, int16_t v) { put(key, scalar(GgufType::kInt16, v)); }
void GgufWriter::set_uint32(std::string_view key, uint32_t v) { put(key, scalar(GgufType::kUint32, v)); }
void GgufWriter::set_int32(std::string_view key, int32_t v) { put(key, scalar(GgufType::kInt32, v)); }
void GgufWriter::set_uint64(std::string_view key, uint64_t v) { put(key, scalar(GgufType::kUint64, v)); }
void GgufWriter::set_int64(std::string_view key, int64_t v) { put(key, scalar(GgufType::kInt64, v)); }
void GgufWriter::set_float32(std::string_view key, float v) { put(key, scalar(GgufType::kFloat32, v)); }
void GgufWriter::set_float64(std::string_view key, double v) { put(key, scalar(GgufType::kFloat64, v)); }
void GgufWriter::set_bool(std::string_view key, bool v) {
  put(key, scalar<uint8_t>(GgufType::kBool, v ? 1 : 0));
}
void GgufWriter::set_string(std::string_view key, std::string_view v) {
  std::string out;
  append_type(out, GgufType::kString);
  append_string(out, v);
  put(key, std::move(out));
}

Status GgufWriter::set_int_array(std::string_view key, GgufType element, std::span<const int64_t> values) {
  if (!is_int_type(element)) {
    return Status::invalid_argument("gguf writer: '" + std::string(key) + "': element type " +
                                    std::to_string(static_cast<uint32_t>(element)) + " is not an integer type");
  }
  std::string out = array_header(element, values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!append_int(out, element, values[i])) {
      return Status::invalid_argument("gguf writer: '" + std::string(key) + "'[" + std::to_string(i) +
                                      "] = " + std::to_string(values[i]) + " does not fit the element type");
    }
  }
  put(key, std::move(out));
  return Status::ok();
}

Status GgufWriter::set_float_array(std::string_view key, GgufType element, std::span<const double> values) {
  if (element != GgufType::kFloat32 && element != GgufType::kFloat64) {
    return Status::invalid_argument("gguf writer: '" + std::string(key) + "': element type " +
                                    std::to_string(static_cast<uint32_t>(element)) + " is not a float type");
  }
  std::string out = array_header(element, values.size());
  out.reserve(out.size() + values.size() * (element == GgufType::kFloat32 ? 4 : 8));
  for (double v : values) {
    if (element == GgufType::kFloat32) {
      append<float>(out, static_cast<float>(v));
    } else {
      append<double>(out, v);
    }
  }
  put(key, std::move(out));
  return Status::ok();
}

void GgufWriter::set_string_array(std::string_view key, std::span<const std::string_view> values) {
  std::string out = array_header(GgufType::kString, values.size());
  for (std::string_view s : values) append_string(out, s);
  put(key, std::move(out));
}

void GgufWriter::set_string_array(std::string_view key, std::span<const std::string> values) {
  std::string out = array_header(GgufType::kString, values.size());
  for (const std::string& s : values) append_string(out, s);
  put(key, std::move(out));
}

Status GgufWriter::set_value(std::string_view key, const GgufValue& v) {
  const std::string k(key);
  auto bad = [&k]() { return Status::invalid_argument("gguf writer: value of '" + k + "' does not match its type"); };
  if (v.type == GgufType::kArray) {
    if (v.array_type == GgufType::kString) {
      set_string_array(key, std::span<const std::string_view>(v.strings));
      return Status::ok();
    }
    if (v.array_type == GgufType::kFloat32 || v.array_type == GgufType::kFloat64) {
      return set_float_array(key, v.array_type, v.floats);
    }
    return set_int_array(key, v.array_type, v.ints);
  }
  switch (v.type) {
    case GgufType::kString: {
      const auto* s = std::get_if<std::string_view>(&v.scalar);
      if (s == nullptr) return bad();
      set_string(key, *s);
      return Status::ok();
    }
    case GgufType::kFloat32:
    case GgufType::kFloat64: {
      const auto* d = std::get_if<double>(&v.scalar);
      if (d == nullptr) return bad();
      if (v.type == GgufType::kFloat32) set_float32(key, static_cast<float>(*d)); else set_float64(key, *d);
      return Status::ok();
    }
    case GgufType::kBool: {
      const auto* b = std::get_if<bool>(&v.scalar);
      if (b == nullptr) return bad();
      set_bool(key, *b);
      return Status::ok();
    }
    default: break;
  }
  int64_t x = 0;
  if (const auto* u = std::get_if<uint64_t>(&v.scalar)) {
    x = static_cast<int64_t>(*u);  // u64 keeps its bits through append_int
  } else if (const auto* s = std::get_if<int64_t>(&v.scalar)) {
    x = *s;
  } else {
    return bad();
  }
  std::string out;
  append_type(out, v.type);
  if (!append_int(out, v.type, x)) return bad();
  put(key, std::move(out));
  return Status::ok();
}

uint64_t GgufWriter::tensor_bytes(TensorType type, std::span<const uint64_t> dims) {
  const TensorTypeTraits* tr = tensor_type_traits(type);
  if (tr == nullptr || dims.empty() || dims[0] % tr->block_size != 0) return 0;
  uint64_t n = 1;
  for (uint64_t d : dims) {
    if (d == 0 || n > std::numeric_limits<uint64_t>::max() / 512 / d) return 0;
    n *= d;
  }
  return n / tr->block_size * tr->type_size;
}

Status GgufWriter::check_tensor(std::string_view name, TensorType type, const std::vector<uint64_t>& dims,
                                uint64_t* n_bytes) const {
  const std::string what = "gguf writer: tensor '" + std::string(name) + "'";
  if (name.empty() || name.size() > kMaxName) {
    return Status::invalid_argument(what + ": name must be 1 to " + std::to_string(kMaxName) + " bytes");
  }
  for (const Tensor& t : tensors_) {
    if (t.name == name) return Status::already_exists(what + " was already added");
  }
  if (dims.empty() || dims.size() > 4) {
    return Status::invalid_argument(what + ": " + std::to_string(dims.size()) + " dimensions (1 to 4 allowed)");
  }
  const TensorTypeTraits* tr = tensor_type_traits(type);
  if (tr == nullptr) {
    return Status::invalid_argument(what + ": unknown tensor type " + std::to_string(static_cast<uint32_t>(type)));
  }
  for (uint64_t d : dims) {
    if (d == 0) return Status::invalid_argument(what + ": a dimension is 0");
  }
  if (dims[0] % tr->block_size != 0) {
    return Status::invalid_argument(what + ": row length " + std::to_string(dims[0]) + " is not a multiple of the " +
                                    std::string(tr->name) + " block size " + std::to_string(tr->block_size));
  }
  *n_bytes = tensor_bytes(type, dims);
  if (*n_bytes == 0) return Status::invalid_argument(what + ": too large");
  return Status::ok();
}

Status GgufWriter::add_tensor(std::string_view name, TensorType type, std::vector<uint64_t> dims, std::string data) {
  uint64_t n_bytes = 0;
  AGENTD_RETURN_IF_ERROR(check_tensor(name, type, dims, &n_bytes));
  if (data.size() != n_bytes) {
    return Status::invalid_argument("gguf writer: tensor '" + std::string(name) + "' has " +
                                    std::to_string(data.size()) + " bytes of data, its shape and type need " +
                                    std::to_string(n_bytes));
  }
  tensors_.push_back(Tensor{std::string(name), type, std::move(dims), n_bytes, std::move(data), nullptr});
  return Status::ok();
}

Status GgufWriter::add_tensor(std::string_view name, TensorType type, std::vector<uint64_t> dims, TensorFill fill) {
  uint64_t n_bytes = 0;
  AGENTD_RETURN_IF_ERROR(check_tensor(name, type, dims, &n_bytes));
  if (!fill) return Status::invalid_argument("gguf writer: tensor '" + std::string(name) + "' has no fill function");
  tensors_.push_back(Tensor{std::string(name), type, std::move(dims), n_bytes, std::string(), std::move(fill)});
  return Status::ok();
}

StatusOr<uint64_t> GgufWriter::alignment() const {
  auto it = index_.find("general.alignment");
  if (it == index_.end()) return uint64_t{kDefaultAlignment};
  const std::string& enc = kv_[it->second].second;
  uint32_t type = 0, value = 0;
  std::memcpy(&type, enc.data(), 4);
  if (type != static_cast<uint32_t>(GgufType::kUint32) || enc.size() != 8) {
    return Status::invalid_argument("gguf writer: general.alignment must be a uint32");
  }
  std::memcpy(&value, enc.data() + 4, 4);
  if (value == 0 || (value & (value - 1)) != 0) {
    return Status::invalid_argument("gguf writer: general.alignment " + std::to_string(value) +
                                    " is not a power of two");
  }
  return uint64_t{value};
}

StatusOr<std::string> GgufWriter::header(uint64_t* align) const {
  AGENTD_ASSIGN_OR_RETURN(*align, alignment());
  std::string out = "GGUF";
  append<uint32_t>(out, kVersion);
  append<uint64_t>(out, tensors_.size());
  append<uint64_t>(out, kv_.size());
  for (const auto& [key, enc] : kv_) {
    append_string(out, key);
    out += enc;
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    append_string(out, t.name);
    append<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) append<uint64_t>(out, d);
    append<uint32_t>(out, static_cast<uint32_t>(t.type));
    append<uint64_t>(out, offset);
    offset += t.n_bytes + pad_to(t.n_bytes, *align);
  }
  out.append(pad_to(out.size(), *align), '\0');
  return out;
}

Status GgufWriter::write(const std::function<Status(const void*, size_t)>& sink) const {
  uint64_t align = 0;
  AGENTD_ASSIGN_OR_RETURN(std::string head, header(&align));
  AGENTD_RETURN_IF_ERROR(sink(head.data(), head.size()));
  const std::string zeros(align, '\0');
  std::vector<uint8_t> buf;
  for (const Tensor& t : tensors_) {
    if (t.fill) {
      buf.assign(t.n_bytes, 0);
      Status s = t.fill(buf.data(), t.n_bytes);
      if (!s.is_ok()) return Status(s.code(), "tensor '" + t.name + "': " + s.message());
      AGENTD_RETURN_IF_ERROR(sink(buf.data(), buf.size()));
    } else {
      AGENTD_RETURN_IF_ERROR(sink(t.data.data(), t.data.size()));
    }
    AGENTD_RETURN_IF_ERROR(sink(zeros.data(), pad_to(t.n_bytes, align)));
  }
  return Status::ok();
}

StatusOr<std::string> GgufWriter::to_bytes() const {
  std::string out;
  AGENTD_RETURN_IF_ERROR(write([&out](const void* p, size_t n) {
    out.append(static_cast<const char*>(p), n);
    return Status::ok();
  }));
  return out;
}

Status GgufWriter::write_file(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
  if (!f) {
    return Status::invalid_argument("gguf writer: cannot create '" + tmp + "': " + std::strerror(errno));
  }
  Status s = write([&](const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, f.get()) != n) {
      return Status::unavailable("gguf writer: writing '" + tmp + "' failed: " + std::strerror(errno));
    }
    return Status::ok();
  });
  if (s.is_ok() && std::fflush(f.get()) != 0) {
    s = Status::unavailable("gguf writer: writing '" + tmp + "' failed: " + std::strerror(errno));
  }
  std::FILE* raw = f.release();
  if (std::fclose(raw) != 0 && s.is_ok()) {
    s = Status::unavailable("gguf writer: closing '" + tmp + "' failed: " + std::strerror(errno));
  }
  if (!s.is_ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Status::invalid_argument("gguf writer: cannot rename '" + tmp + "' to '" + path + "': " +
                                    std::strerror(err));
  }
  return Status::ok();
}

}  // namespace agentd::engine
