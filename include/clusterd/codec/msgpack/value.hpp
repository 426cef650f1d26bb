// A decoded msgpack object tree, for readers that look at a reply generically (the IPC client
// and the CLI) instead of through a field list. Built with the one core Reader, so the same
// caps, depth limit, errors and need-more answers apply.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/codec/msgpack/core.hpp"

namespace clusterd::codec::msgpack {

/// One decoded msgpack object. Maps keep their pairs in `items` as key, value, key, value, ...
struct Value {
    enum class Kind : std::uint8_t { Nil, Bool, Int, UInt, Float, Str, Bin, Array, Map };
    Kind kind = Kind::Nil;
    bool b = false;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double f = 0.0;
    std::string s;            ///< Str and Bin payloads
    std::vector<Value> items; ///< Array elements, or Map key/value pairs flattened

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

/// Reads one value (ext types are an error: neither protocol uses them).
base::Result<Value> read_value(Reader& r);

} // namespace clusterd::codec::msgpack
