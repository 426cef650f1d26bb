// A small msgpack writer/reader that reproduces Go's go-msgpack MsgpackHandle (default options,
// as memberlist and Serf use for gossip): smallest integer forms, no str8 (0xd9) and no bin
// family on write, []byte written as str. Struct writers must emit fields sorted by Go field name
// (go-msgpack's struct field order), which the golden vectors confirm. The reader accepts every standard form, enforces
// length claims against the remaining bytes before allocating, and bounds nesting depth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"

namespace clusterd::wire::mp {

class Writer {
public:
    explicit Writer(base::Bytes& out) : out_(out) {}

    void nil() { out_.push_back(0xc0); }
    void boolean(bool b) { out_.push_back(b ? 0xc3 : 0xc2); }
    void uint(std::uint64_t v);
    void sint(std::int64_t v);
    void str(std::string_view s);
    /// Go []byte: nil when empty (Go's nil slice), else a str with the bytes.
    void bytes(base::ByteView b);
    /// Go []byte that is known to be non-nil even when empty.
    void bytes_nonnil(base::ByteView b);
    void array_header(std::size_t n);
    void map_header(std::size_t n);
    /// A struct field name (map key).
    void key(std::string_view k) { str(k); }
    void raw(base::ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }

private:
    void be(std::uint64_t v, int nbytes);
    base::Bytes& out_;
};

/// Reads one msgpack stream; every failure is a base::Error with code "truncated" (ran out of
/// bytes) or "malformed" (wrong type, overflow, bad length, too deep).
class Reader {
public:
    explicit Reader(base::ByteView in) : in_(in) {}

    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return in_.size() - pos_; }
    bool at_end() const { return pos_ >= in_.size(); }
    base::ByteView rest() const { return in_.subspan(pos_); }

    /// True (and consumes it) if the next value is nil.
    base::Result<bool> try_nil();
    base::Result<std::uint64_t> uint(std::uint64_t max = UINT64_MAX);
    base::Result<std::int64_t> sint();
    base::Result<bool> boolean();
    /// str, bin or nil (as empty).
    base::Result<std::string> str();
    base::Result<base::Bytes> bytes();
    /// Array header (nil = 0). The count is checked against the remaining bytes.
    base::Result<std::size_t> array_header();
    /// Map header (nil = 0). The count is checked against the remaining bytes.
    base::Result<std::size_t> map_header();
    /// Skips one complete value of any type.
    base::Status skip();
    /// Byte length of the next complete value without consuming it; nullopt if the buffer ends
    /// before the value does (more bytes needed), Error on malformed input.
    base::Result<std::optional<std::size_t>> measure() const;

private:
    base::Result<std::uint8_t> byte();
    base::Result<std::uint64_t> be(int nbytes);
    base::Result<std::size_t> raw_len(bool allow_nil);
    base::Status skip_depth(int depth);
    base::ByteView in_;
    std::size_t pos_ = 0;
};

base::Error truncated(const std::string& what);
base::Error malformed(const std::string& what);

/// Decodes a Go struct encoded as a msgpack map (nil = all zero fields): calls
/// field(name, reader) -> base::Result<bool> for every key; false means "unknown field", which is
/// then skipped, as go-msgpack does.
template <typename F>
base::Status read_struct(Reader& r, F&& field) {
    auto n = r.map_header();
    if (!n) return n.error();
    for (std::size_t i = 0; i < *n; ++i) {
        auto name = r.str();
        if (!name) return name.error();
        base::Result<bool> known = field(*name, r);
        if (!known) return known.error().with_prefix("field " + *name);
        if (!*known) {
            if (auto s = r.skip(); !s) return s.error();
        }
    }
    return base::ok_status();
}

}  // namespace clusterd::wire::mp
