// The one msgpack core of clusterd: a bounded pull Reader and a Writer with a dialect policy.
//
// Dialects (the two ways Go's go-msgpack handle is configured by the programs we talk to):
//   Gossip: memberlist/Serf gossip (MsgpackHandle, default options): no str8 on write (fixstr,
//           then str16, str32), []byte written as str.
//   Ipc:    the Serf agent's IPC (RawToString + WriteExt): str8 used, []byte written as bin.
// Both read every standard form. Errors are base::Error values with one of four codes:
//   "truncated" the input ends inside a value (a stream may need more bytes, see measure())
//   "too_large" a length or element count exceeds the reader's cap
//   "too_deep"  nesting exceeds the reader's depth limit
//   "malformed" wrong type, reserved byte, integer out of range
// and a message that names the field path where it happened ("Members[3].Tags: expected a map").
// A length prefix is never trusted: it is checked against the bytes present and the cap before
// anything is allocated or skipped.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"

namespace clusterd::codec::msgpack {

enum class Dialect : std::uint8_t { Gossip, Ipc };

struct Limits {
    /// Cap on any one str/bin length and on any array/map element count.
    std::size_t max_len = std::numeric_limits<std::size_t>::max();
    /// Containers may nest this deep (a scalar at the top is depth 0).
    int max_depth = 32;
};

/// Appends msgpack to a byte buffer, or only counts the bytes (encoded_size without a buffer).
class Writer {
  public:
    explicit Writer(base::Bytes& out, Dialect d = Dialect::Gossip) : out_(&out), dialect_(d) {}
    /// A writer that only counts.
    explicit Writer(Dialect d) : dialect_(d) {}

    Dialect dialect() const { return dialect_; }
    /// Bytes written (or counted) by this writer.
    std::size_t size() const { return count_; }

    void nil() { put(0xc0); }
    void boolean(bool b) { put(b ? 0xc3 : 0xc2); }
    void uint(std::uint64_t v);
    void sint(std::int64_t v);
    void f64(double v);
    void str(std::string_view s);
    /// A Go []byte that is never nil: str (Gossip) or bin (Ipc).
    void bytes(base::ByteView b);
    /// A Go []byte: nil when empty (Go's nil slice), else bytes().
    void bytes_or_nil(base::ByteView b);
    void array_header(std::size_t n);
    void map_header(std::size_t n);
    void raw(base::ByteView b) {
        count_ += b.size();
        if (out_ != nullptr)
            out_->insert(out_->end(), b.begin(), b.end());
    }

  private:
    void put(std::uint8_t b) {
        ++count_;
        if (out_ != nullptr)
            out_->push_back(b);
    }
    void be(std::uint64_t v, int nbytes);
    void head(std::uint8_t fix_tag, std::size_t fix_max, std::uint8_t tag16, std::size_t n);
    base::Bytes* out_ = nullptr;
    Dialect dialect_;
    std::size_t count_ = 0;
};

/// The next value's family, without consuming it.
enum class Kind : std::uint8_t { Nil, Bool, Int, Float, Str, Bin, Array, Map, Ext };

/// Where one value ends: `complete` with its `size`, or, when the buffer ends first, the total
/// length the buffer must reach (`need`, at least one more byte) before measuring can progress.
struct Extent {
    bool complete = false;
    std::size_t size = 0;
    std::size_t need = 0;
};

class Reader {
  public:
    explicit Reader(base::ByteView in, Limits limits = {}) : in_(in), limits_(limits) {}

    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return in_.size() - pos_; }
    bool at_end() const { return pos_ >= in_.size(); }
    base::ByteView rest() const { return in_.subspan(pos_); }
    const Limits& limits() const { return limits_; }

    base::Result<Kind> peek() const;
    /// True (and consumes it) if the next value is nil.
    base::Result<bool> try_nil() {
        if (at_end())
            return try_nil_slow();
        if (in_[pos_] != 0xc0)
            return false;
        ++pos_;
        return true;
    }
    base::Result<std::uint64_t> uint(std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
        // Inline fast path (decoding gossip is hot in large simulations): a positive fixint or a
        // complete uint8/16/32 within range; anything else, errors included, takes the full path.
        if (pos_ < in_.size()) {
            const std::uint8_t t = in_[pos_];
            std::uint64_t v = 0;
            std::size_t len = 1;
            if (t <= 0x7f) {
                v = t;
            } else if (t >= 0xcc && t <= 0xce) {
                len = 1 + (std::size_t{1} << (t - 0xcc));
                if (remaining() < len)
                    return uint_slow(max);
                for (std::size_t i = 1; i < len; ++i)
                    v = (v << 8) | in_[pos_ + i];
            } else {
                return uint_slow(max);
            }
            if (v <= max) {
                pos_ += len;
                return v;
            }
        }
        return uint_slow(max);
    }
    base::Result<std::int64_t> sint(std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                                    std::int64_t max = std::numeric_limits<std::int64_t>::max());
    /// float32, float64 or any integer.
    base::Result<double> f64();
    /// A bool; nil reads as false.
    base::Result<bool> boolean();
    /// str, bin or nil (empty); the view points into the input.
    base::Result<std::string_view> str_view() {
        // Inline fast path: a complete fixstr, str8 or bin8 within the length limit.
        if (pos_ < in_.size()) {
            const std::uint8_t t = in_[pos_];
            std::size_t head = 1, n = 0;
            if ((t & 0xe0) == 0xa0) {
                n = t & 0x1f;
            } else if ((t == 0xd9 || t == 0xc4) && remaining() >= 2) {
                head = 2;
                n = in_[pos_ + 1];
            } else {
                return str_view_slow();
            }
            if (n <= limits_.max_len && n <= remaining() - head) {
                std::string_view sv(reinterpret_cast<const char*>(in_.data() + pos_ + head), n);
                pos_ += head + n;
                return sv;
            }
        }
        return str_view_slow();
    }
    base::Result<std::string> str();
    base::Result<base::Bytes> bytes();
    /// Array / map headers (nil = 0). Counts are checked against the cap and the remaining bytes.
    base::Result<std::size_t> array_header();
    base::Result<std::size_t> map_header();
    /// Consumes `n` raw bytes (no msgpack framing).
    base::Result<base::ByteView> raw(std::size_t n);

    /// Skips one complete value of any type.
    base::Status skip();
    /// Measures the next value without consuming it: complete, or how long the input must be
    /// (counted from pos()) to progress. Errors other than running out of bytes are returned.
    base::Result<Extent> measure() const;

    // ---- field paths for error messages (used by the struct codec in fields.hpp) ----
    void enter(std::string_view field) { push({field, kNoIndex}); }
    void enter(std::size_t index) { push({{}, index}); }
    void leave() {
        if (depth_path_ > 0)
            --depth_path_;
    }
    /// An error of this reader with the current field path in front of `what`.
    base::Error fail(std::string code, std::string_view what) const;
    /// Nesting depth of containers currently being decoded by the struct codec.
    int depth() const { return depth_; }
    base::Status descend() {
        if (depth_ >= limits_.max_depth)
            return descend_slow();
        ++depth_;
        return base::ok_status();
    }
    void ascend() { --depth_; }

  private:
    static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);
    struct Seg {
        std::string_view name;
        std::size_t index;
    };
    void push(Seg s) {
        if (depth_path_ < path_.size())
            path_[depth_path_] = s;
        ++depth_path_;
    }
    base::Result<bool> try_nil_slow();
    base::Result<std::uint64_t> uint_slow(std::uint64_t max);
    base::Result<std::string_view> str_view_slow();
    base::Status descend_slow();
    base::Result<std::uint8_t> byte();
    base::Result<std::uint64_t> be(int nbytes);
    base::Result<std::size_t> raw_len();
    base::Result<std::size_t> container(std::uint8_t fix, std::size_t per_elem, const char* what);
    base::Result<std::size_t> count(std::uint64_t n, std::size_t per_elem, const char* what);
    base::Status skip_depth(int depth);
    base::Error short_input(std::size_t want, std::string_view what);

    base::ByteView in_;
    Limits limits_;
    std::size_t pos_ = 0;
    std::size_t need_ = 0; ///< absolute input length the last truncation needs
    int depth_ = 0;
    std::array<Seg, 40> path_{};
    std::size_t depth_path_ = 0;
};

} // namespace clusterd::codec::msgpack
