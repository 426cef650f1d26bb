// A small, bounds-checked msgpack reader/writer for the agent's IPC dialect (Go's go-msgpack
// handle with RawToString + WriteExt): strings are `str` (fixstr/str8/16/32), byte slices are
// `bin`, non-negative integers use the smallest unsigned format, negatives the smallest signed.
// The reader never allocates from a length prefix: every claimed length or element count is first
// checked against the bytes actually present and against a caller-supplied cap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/bytes.hpp"

namespace clusterd::rpc::mp {

/// One decoded msgpack object. Maps keep their pairs in `items` as key, value, key, value, ...
struct Value {
    enum class Kind : std::uint8_t { Nil, Bool, Int, UInt, Float, Str, Bin, Array, Map };
    Kind kind = Kind::Nil;
    bool b = false;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double f = 0.0;
    std::string s;              ///< Str and Bin payloads
    std::vector<Value> items;   ///< Array elements, or Map key/value pairs flattened

    bool is_nil() const { return kind == Kind::Nil; }
    bool is_map() const { return kind == Kind::Map; }
    std::size_t map_size() const { return items.size() / 2; }
    /// Map lookup by string key (Str or Bin key); nullptr if absent or not a map.
    const Value* find(std::string_view key) const;
    /// Non-negative integer value (UInt, or Int >= 0); false otherwise.
    bool as_uint(std::uint64_t& out) const;
    /// Signed integer value (Int, or UInt that fits); false otherwise.
    bool as_int(std::int64_t& out) const;
};

enum class Status : std::uint8_t { Ok, NeedMore, Error };

struct DecodeResult {
    Status status = Status::Error;
    std::size_t consumed = 0;  ///< bytes used when Ok
    std::string error;         ///< why, when Error
    std::size_t need_bytes = 0;  ///< when NeedMore: the input must be at least this long to progress
};

/// Decodes one object from the front of `in`. `max_bytes` caps every length claim (a claim that
/// exceeds it is an Error, not NeedMore); `max_depth` bounds nesting.
DecodeResult decode(base::ByteView in, Value& out, std::size_t max_bytes, int max_depth = 32);

/// Skips one object without building it (same checks as decode).
DecodeResult skip(base::ByteView in, std::size_t max_bytes, int max_depth = 32);

/// Appends msgpack to a byte buffer.
class Writer {
public:
    explicit Writer(base::Bytes& out) : out_(out) {}
    void nil();
    void boolean(bool v);
    void uint(std::uint64_t v);
    void sint(std::int64_t v);
    void f64(double v);
    void str(std::string_view v);
    void bin(base::ByteView v);
    /// A Go []byte: nil when empty (as Go encodes a nil slice), else bin.
    void bytes_or_nil(base::ByteView v);
    void array(std::size_t n);
    void map(std::size_t n);
    /// map[string]string with sorted keys.
    void string_map(const std::map<std::string, std::string>& m);

private:
    void put(std::uint8_t b) { out_.push_back(b); }
    void be(std::uint64_t v, int n);
    base::Bytes& out_;
};

}  // namespace clusterd::rpc::mp
