// LZW codec matching Go's compress/lzw (LSB order, 8-bit literals). The encoder mirrors the Go
// writer's open-addressed hash table so code assignment (and thus the output) is identical; the
// decoder follows the same width/hi bookkeeping as Go's reader.
#include "clusterd/wire/lzw.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace clusterd::wire {

namespace {

constexpr std::uint32_t kLitWidth = 8;
constexpr std::uint32_t kClear = 1u << kLitWidth; // 256
constexpr std::uint32_t kEof = kClear + 1;        // 257
constexpr std::uint32_t kMaxWidth = 12;
constexpr std::uint32_t kMaxCode = (1u << kMaxWidth) - 1; // 4095
constexpr std::uint32_t kTableSize = 4 * (1u << kMaxWidth);
constexpr std::uint32_t kTableMask = kTableSize - 1;
constexpr std::uint32_t kInvalidEntry = 0;

class BitWriter {
  public:
    explicit BitWriter(base::Bytes& out) : out_(out) {}
    void put(std::uint32_t code, std::uint32_t width) {
        bits_ |= code << nbits_;
        nbits_ += width;
        while (nbits_ >= 8) {
            out_.push_back(static_cast<std::uint8_t>(bits_));
            bits_ >>= 8;
            nbits_ -= 8;
        }
    }
    void flush() {
        if (nbits_ > 0)
            out_.push_back(static_cast<std::uint8_t>(bits_));
        bits_ = 0;
        nbits_ = 0;
    }

  private:
    base::Bytes& out_;
    std::uint32_t bits_ = 0;
    std::uint32_t nbits_ = 0;
};

} // namespace

base::Bytes lzw_compress(base::ByteView in) {
    base::Bytes out;
    out.reserve(in.size() / 2 + 8);
    BitWriter bw(out);
    auto table = std::make_unique<std::array<std::uint32_t, kTableSize>>();
    table->fill(kInvalidEntry);
    std::uint32_t width = kLitWidth + 1;
    std::uint32_t hi = kClear + 1;
    std::uint32_t overflow = kClear << 1;

    bw.put(kClear, width); // Go always starts with a clear code
    if (in.empty()) {
        bw.put(kEof, width);
        bw.flush();
        return out;
    }

    // Returns true when the code space ran out and the state was reset.
    auto inc_hi = [&]() -> bool {
        ++hi;
        if (hi == overflow) {
            ++width;
            overflow <<= 1;
        }
        if (hi == kMaxCode) {
            bw.put(kClear, width);
            width = kLitWidth + 1;
            hi = kClear + 1;
            overflow = kClear << 1;
            table->fill(kInvalidEntry);
            return true;
        }
        return false;
    };

    std::uint32_t code = in[0];
    for (std::size_t i = 1; i < in.size(); ++i) {
        std::uint32_t literal = in[i];
        std::uint32_t key = (code << 8) | literal;
        std::uint32_t hash = ((key >> 12) ^ key) & kTableMask;
        bool hit = false;
        for (std::uint32_t h = hash, t = (*table)[hash]; t != kInvalidEntry;) {
            if (key == (t >> 12)) {
                code = t & kMaxCode;
                hit = true;
                break;
            }
            h = (h + 1) & kTableMask;
            t = (*table)[h];
        }
        if (hit)
            continue;
        bw.put(code, width);
        code = literal;
        if (inc_hi())
            continue;
        for (;;) {
            if ((*table)[hash] == kInvalidEntry) {
                (*table)[hash] = (key << 12) | hi;
                break;
            }
            hash = (hash + 1) & kTableMask;
        }
    }
    bw.put(code, width);
    inc_hi();
    bw.put(kEof, width);
    bw.flush();
    return out;
}

base::Result<base::Bytes> lzw_decompress(base::ByteView in, std::size_t max_out) {
    constexpr std::uint32_t kInvalid = 0xffff;
    std::vector<std::uint8_t> suffix(1u << kMaxWidth);
    std::vector<std::uint16_t> prefix(1u << kMaxWidth);
    std::vector<std::uint8_t> scratch(1u << kMaxWidth);
    base::Bytes out;

    std::uint32_t width = kLitWidth + 1;
    std::uint32_t hi = kEof;
    std::uint32_t overflow = 1u << width;
    std::uint32_t last = kInvalid;
    std::uint32_t bits = 0, nbits = 0;
    std::size_t pos = 0;

    for (;;) {
        while (nbits < width) {
            if (pos >= in.size())
                return base::make_error("bad_compression", "lzw stream ends without an eof code");
            bits |= static_cast<std::uint32_t>(in[pos++]) << nbits;
            nbits += 8;
        }
        std::uint32_t code = bits & ((1u << width) - 1);
        bits >>= width;
        nbits -= width;

        if (code == kClear) {
            width = kLitWidth + 1;
            hi = kEof;
            overflow = 1u << width;
            last = kInvalid;
            continue;
        }
        if (code == kEof)
            return out;

        if (code < kClear) {
            if (out.size() >= max_out)
                return base::make_error("too_large",
                                        "lzw output exceeds " + std::to_string(max_out) + " bytes");
            out.push_back(static_cast<std::uint8_t>(code));
            if (last != kInvalid) {
                suffix[hi] = static_cast<std::uint8_t>(code);
                prefix[hi] = static_cast<std::uint16_t>(last);
            }
        } else if (code <= hi) {
            if (code == hi && last == kInvalid)
                return base::make_error("bad_compression", "lzw code refers to an undefined entry");
            // Expand into scratch from the back, as Go does.
            std::size_t i = scratch.size();
            std::uint32_t c = code;
            if (code == hi) {
                c = last;
                while (c >= kClear)
                    c = prefix[c];
                scratch[--i] = static_cast<std::uint8_t>(c);
                c = last;
            }
            while (c >= kClear) {
                if (i == 0)
                    return base::make_error("bad_compression", "lzw chain too long");
                scratch[--i] = suffix[c];
                c = prefix[c];
            }
            if (i == 0)
                return base::make_error("bad_compression", "lzw chain too long");
            scratch[--i] = static_cast<std::uint8_t>(c);
            std::size_t n = scratch.size() - i;
            if (out.size() + n > max_out)
                return base::make_error("too_large",
                                        "lzw output exceeds " + std::to_string(max_out) + " bytes");
            out.insert(out.end(), scratch.begin() + static_cast<std::ptrdiff_t>(i), scratch.end());
            if (last != kInvalid) {
                suffix[hi] = static_cast<std::uint8_t>(c);
                prefix[hi] = static_cast<std::uint16_t>(last);
            }
        } else {
            return base::make_error("bad_compression", "invalid lzw code " + std::to_string(code));
        }
        last = code;
        ++hi;
        if (hi >= overflow) {
            if (width == kMaxWidth) {
                last = kInvalid;
                --hi;
            } else {
                ++width;
                overflow = 1u << width;
            }
        }
    }
}

} // namespace clusterd::wire
