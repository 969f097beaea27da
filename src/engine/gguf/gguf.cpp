// GGUF reader. Layout (little-endian):
//   "GGUF" u32 version u64 n_tensors u64 n_kv
//   n_kv x { string key, u32 type, value }
//   n_tensors x { string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset }
//   padding to `general.alignment` (default 32), then the data section.
// A string is u64 length + bytes; an array is u32 element type + u64 count + elements.
// Every read is bounds-checked against the image, and no count read from the
// file sizes an allocation before the bytes it implies are known to exist.

#include "engine/gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

namespace agentd::engine {

namespace {

constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr uint64_t kMaxStringLength = uint64_t{1} << 30;

std::string_view type_name(GgufType t) {
  switch (t) {
    case GgufType::kUint8: return "uint8";
    case GgufType::kInt8: return "int8";
    case GgufType::kUint16: return "uint16";
    case GgufType::kInt16: return "int16";
    case GgufType::kUint32: return "uint32";
    case GgufType::kInt32: return "int32";
    case GgufType::kFloat32: return "float32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kUint64: return "uint64";
    case GgufType::kInt64: return "int64";
    case GgufType::kFloat64: return "float64";
  }
  return "unknown";
}

// Size in bytes of a fixed-size scalar type; 0 for string/array/unknown.
uint64_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: return 8;
    default: return 0;
  }
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }

// Sequential bounds-checked reader over the image.
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t size, const std::string& what) : base_(base), size_(size), what_(what) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  Status truncated(std::string_view reading) const {
    return Status::data_loss(what_ + ": truncated at offset " + std::to_string(pos_) + " (file size " +
                             std::to_string(size_) + ") while reading " + std::string(reading));
  }

  template <typename T>
  Status read(T& out, std::string_view reading) {
    if (remaining() < sizeof(T)) return truncated(reading);
    std::memcpy(&out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::ok();
  }

  Status read_string(std::string_view& out, std::string_view reading) {
    uint64_t len = 0;
    AGENTD_RETURN_IF_ERROR(read(len, reading));
    if (len > kMaxStringLength) {
      return Status::data_loss(what_ + ": string length " + std::to_string(len) + " at offset " +
                               std::to_string(pos_ - 8) + " is too large while reading " + std::string(reading));
    }
    if (remaining() < len) return truncated(reading);
    out = std::string_view(reinterpret_cast<const char*>(base_ + pos_), len);
    pos_ += len;
    return Status::ok();
  }

 private:
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& what_;
};

// Reads one scalar of fixed-size type `t` into `v`.
Status read_scalar(Cursor& c, GgufType t, GgufValue& v, std::string_view reading) {
  switch (t) {
    case GgufType::kUint8: { uint8_t x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = uint64_t{x}; break; }
    case GgufType::kUint16: { uint16_t x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = uint64_t{x}; break; }
    case GgufType::kUint32: { uint32_t x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = uint64_t{x}; break; }
    case GgufType::kUint64: { uint64_t x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = x; break; }
    case GgufType::kInt8: { int8_t x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = int64_t{x}; break; }
    case GgufType::kInt16: { int16_t x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = int64_t{x}; break; }
    case GgufType::kInt32: { int32_t x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = int64_t{x}; break; }
    case GgufType::kInt64: { int64_t x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = x; break; }
    case GgufType::kFloat32: { float x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = double{x}; break; }
    case GgufType::kFloat64: { double x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = x; break; }
    case GgufType::kBool: { uint8_t x{}; AGENTD_RETURN_IF_ERROR(c.read(x, reading)); v.scalar = x != 0; break; }
    case GgufType::kString: {
      std::string_view s;
      AGENTD_RETURN_IF_ERROR(c.read_string(s, reading));
      v.scalar = s;
      break;
    }
    default: return Status::internal("read_scalar on a non-scalar type");
  }
  return Status::ok();
}

// Reads the elements of an array whose element type and count are known.
Status read_array(Cursor& c, GgufValue& v, const std::string& what, std::string_view reading) {
  const GgufType et = v.array_type;
  const uint64_t n = v.array_size;
  if (et == GgufType::kString) {
    // Each element needs at least its 8-byte length.
    if (n > c.remaining() / 8) return c.truncated(reading);
    v.strings.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view s;
      AGENTD_RETURN_IF_ERROR(c.read_string(s, reading));
      v.strings.push_back(s);
    }
    return Status::ok();
  }
  const uint64_t es = scalar_size(et);
  if (es == 0) {
    return Status::data_loss(what + ": unsupported array element type " + std::string(type_name(et)) + " in " +
                             std::string(reading));
  }
  if (n > c.remaining() / es) return c.truncated(reading);
  const bool is_float = et == GgufType::kFloat32 || et == GgufType::kFloat64;
  if (is_float) v.floats.reserve(n); else v.ints.reserve(n);
  GgufValue tmp;
  for (uint64_t i = 0; i < n; ++i) {
    AGENTD_RETURN_IF_ERROR(read_scalar(c, et, tmp, reading));
    if (is_float) {
      v.floats.push_back(std::get<double>(tmp.scalar));
    } else if (auto* u = std::get_if<uint64_t>(&tmp.scalar)) {
      v.ints.push_back(static_cast<int64_t>(*u));
    } else if (auto* s = std::get_if<int64_t>(&tmp.scalar)) {
      v.ints.push_back(*s);
    } else {
      v.ints.push_back(std::get<bool>(tmp.scalar) ? 1 : 0);
    }
  }
  return Status::ok();
}

}  // namespace

GgufFile::~GgufFile() {
  if (mapped_ && base_ != nullptr) munmap(const_cast<uint8_t*>(base_), size_);
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string msg = "gguf file '" + path + "': cannot open: " + std::strerror(err);
    if (err == ENOENT) return Status::not_found(msg);
    return Status::invalid_argument(msg);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::invalid_argument("gguf file '" + path + "': cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::invalid_argument("gguf file '" + path + "': not a regular file");
  }
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (f->size_ == 0) {
    ::close(fd);
    return Status::data_loss("gguf file '" + path + "': file is empty");
  }
  void* p = mmap(nullptr, f->size_, PROT_READ, MAP_SHARED, fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    return Status::unavailable("gguf file '" + path + "': mmap failed: " + std::strerror(err));
  }
  f->base_ = static_cast<const uint8_t*>(p);
  f->mapped_ = true;
  AGENTD_RETURN_IF_ERROR(f->parse());
  return f;
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::from_bytes(std::string bytes) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = "<memory>";
  f->owned_ = std::move(bytes);
  f->base_ = reinterpret_cast<const uint8_t*>(f->owned_.data());
  f->size_ = f->owned_.size();
  AGENTD_RETURN_IF_ERROR(f->parse());
  return f;
}

Status GgufFile::parse() {
  const std::string what = "gguf file '" + path_ + "'";
  Cursor c(base_, size_, what);

  char magic[4];
  if (size_ < 4) return Status::data_loss(what + ": too small to be a GGUF file (" + std::to_string(size_) + " bytes)");
  std::memcpy(magic, base_, 4);
  if (std::memcmp(magic, "GGUF", 4) != 0) return Status::data_loss(what + ": bad magic, not a GGUF file");
  uint32_t skip = 0;
  AGENTD_RETURN_IF_ERROR(c.read(skip, "magic"));
  AGENTD_RETURN_IF_ERROR(c.read(version_, "version"));
  if (version_ != 2 && version_ != 3) {
    return Status::unimplemented(what + ": unsupported GGUF version " + std::to_string(version_) +
                                 " (supported: 2, 3)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  AGENTD_RETURN_IF_ERROR(c.read(n_tensors, "tensor count"));
  AGENTD_RETURN_IF_ERROR(c.read(n_kv, "metadata count"));
  // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes; a
  // tensor info at least 8 + 4 + 4 + 8.
  if (n_kv > c.remaining() / 13) {
    return Status::data_loss(what + ": metadata count " + std::to_string(n_kv) + " exceeds what the file can hold");
  }
  if (n_tensors > c.remaining() / 24) {
    return Status::data_loss(what + ": tensor count " + std::to_string(n_tensors) +
                             " exceeds what the file can hold");
  }

  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string idx = "metadata entry " + std::to_string(i);
    std::string_view key;
    AGENTD_RETURN_IF_ERROR(c.read_string(key, idx + " key"));
    const std::string reading = idx + " ('" + std::string(key) + "')";
    uint32_t raw_type = 0;
    AGENTD_RETURN_IF_ERROR(c.read(raw_type, reading + " type"));
    if (!valid_type(raw_type)) {
      return Status::data_loss(what + ": invalid value type " + std::to_string(raw_type) + " for " + reading);
    }
    GgufValue v;
    v.type = static_cast<GgufType>(raw_type);
    if (v.type == GgufType::kArray) {
      uint32_t et = 0;
      AGENTD_RETURN_IF_ERROR(c.read(et, reading + " array element type"));
      if (!valid_type(et)) {
        return Status::data_loss(what + ": invalid array element type " + std::to_string(et) + " for " + reading);
      }
      v.array_type = static_cast<GgufType>(et);
      if (v.array_type == GgufType::kArray) {
        return Status::unimplemented(what + ": nested arrays are not supported (" + reading + ")");
      }
      AGENTD_RETURN_IF_ERROR(c.read(v.array_size, reading + " array length"));
      AGENTD_RETURN_IF_ERROR(read_array(c, v, what, reading));
    } else {
      AGENTD_RETURN_IF_ERROR(read_scalar(c, v.type, v, reading));
    }
    auto [it, inserted] = kv_.emplace(std::string(key), std::move(v));
    if (!inserted) return Status::data_loss(what + ": duplicate metadata key '" + std::string(key) + "'");
  }

  if (const GgufValue* a = find("general.alignment")) {
    const uint64_t* u = std::get_if<uint64_t>(&a->scalar);
    if (a->type != GgufType::kUint32 || u == nullptr) {
      return Status::data_loss(what + ": general.alignment must be a uint32, got " + std::string(type_name(a->type)));
    }
    if (*u == 0 || (*u & (*u - 1)) != 0) {
      return Status::data_loss(what + ": general.alignment " + std::to_string(*u) + " is not a power of two");
    }
    alignment_ = *u;
  }

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const std::string idx = "tensor info " + std::to_string(i);
    std::string_view name;
    AGENTD_RETURN_IF_ERROR(c.read_string(name, idx + " name"));
    const std::string reading = idx + " ('" + std::string(name) + "')";
    GgufTensorInfo t;
    t.name = std::string(name);
    uint32_t n_dims = 0;
    AGENTD_RETURN_IF_ERROR(c.read(n_dims, reading + " dimension count"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return Status::data_loss(what + ": " + reading + " has " + std::to_string(n_dims) +
                               " dimensions (supported: 1 to " + std::to_string(kMaxDims) + ")");
    }
    t.dims.resize(n_dims);
    uint64_t n_el = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      AGENTD_RETURN_IF_ERROR(c.read(t.dims[d], reading + " dimensions"));
      const uint64_t dim = t.dims[d];
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          n_el > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim) {
        return Status::data_loss(what + ": " + reading + " has invalid dimension " + std::to_string(d) + " = " +
                                 std::to_string(dim));
      }
      n_el *= dim;
    }
    t.n_elements = n_el;
    uint32_t raw_type = 0;
    AGENTD_RETURN_IF_ERROR(c.read(raw_type, reading + " type"));
    const TensorTypeTraits* tr = tensor_type_traits(raw_type);
    if (tr == nullptr) {
      return Status::unimplemented(what + ": " + reading + " has unsupported tensor type " +
                                   std::to_string(raw_type));
    }
    t.type = static_cast<TensorType>(raw_type);
    if (t.dims[0] % tr->block_size != 0) {
      return Status::data_loss(what + ": " + reading + " row length " + std::to_string(t.dims[0]) +
                               " is not a multiple of the " + std::string(tr->name) + " block size " +
                               std::to_string(tr->block_size));
    }
    // n_el < 2^63 and type_size/block_size is at most 292/256 or 4/1: the
    // product could still overflow for byte-sized types, so divide first.
    const uint64_t n_blocks = n_el / tr->block_size;
    if (n_blocks > std::numeric_limits<uint64_t>::max() / tr->type_size) {
      return Status::data_loss(what + ": " + reading + " is too large");
    }
    t.n_bytes = n_blocks * tr->type_size;
    AGENTD_RETURN_IF_ERROR(c.read(t.offset, reading + " offset"));
    if (t.offset % alignment_ != 0) {
      return Status::data_loss(what + ": " + reading + " offset " + std::to_string(t.offset) +
                               " is not a multiple of the alignment " + std::to_string(alignment_));
    }
    if (tensor_index_.count(t.name) != 0) {
      return Status::data_loss(what + ": duplicate tensor name '" + t.name + "'");
    }
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  uint64_t data_start = c.pos();
  if (data_start % alignment_ != 0) data_start += alignment_ - data_start % alignment_;
  if (n_tensors > 0 && data_start > size_) {
    return Status::data_loss(what + ": truncated: data section would start at " + std::to_string(data_start) +
                             " but the file has " + std::to_string(size_) + " bytes");
  }
  const uint64_t data_size = data_start <= size_ ? size_ - data_start : 0;
  for (GgufTensorInfo& t : tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      return Status::data_loss(what + ": tensor '" + t.name + "' data [" + std::to_string(t.offset) + ", +" +
                               std::to_string(t.n_bytes) + ") extends past the end of the data section (" +
                               std::to_string(data_size) + " bytes): file truncated or corrupted");
    }
    t.data = base_ + data_start + t.offset;
  }
  return Status::ok();
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* u = std::get_if<uint64_t>(&v->scalar)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* s = std::get_if<int64_t>(&v->scalar)) return *s;
  return std::nullopt;
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* d = std::get_if<double>(&v->scalar)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v->scalar)) return static_cast<double>(*u);
  if (const auto* s = std::get_if<int64_t>(&v->scalar)) return static_cast<double>(*s);
  return std::nullopt;
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* b = std::get_if<bool>(&v->scalar)) return *b;
  return std::nullopt;
}

std::optional<std::string_view> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* s = std::get_if<std::string_view>(&v->scalar)) return *s;
  return std::nullopt;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace agentd::engine
