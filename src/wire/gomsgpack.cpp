// go-msgpack compatible writer and a bounds-checked msgpack reader (see gomsgpack.hpp).
#include "gomsgpack.hpp"

namespace clusterd::wire::mp {

namespace {
constexpr int kMaxDepth = 32;
}

base::Error truncated(const std::string& what) { return base::make_error("truncated", "truncated msgpack: " + what); }
base::Error malformed(const std::string& what) { return base::make_error("malformed", "malformed msgpack: " + what); }

// ---------------- Writer ----------------

void Writer::be(std::uint64_t v, int nbytes) {
    for (int i = nbytes - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void Writer::uint(std::uint64_t v) {
    if (v <= 0x7f) {
        out_.push_back(static_cast<std::uint8_t>(v));
    } else if (v <= 0xff) {
        out_.push_back(0xcc);
        be(v, 1);
    } else if (v <= 0xffff) {
        out_.push_back(0xcd);
        be(v, 2);
    } else if (v <= 0xffffffffULL) {
        out_.push_back(0xce);
        be(v, 4);
    } else {
        out_.push_back(0xcf);
        be(v, 8);
    }
}

void Writer::sint(std::int64_t v) {
    if (v >= 0) {
        uint(static_cast<std::uint64_t>(v));
    } else if (v >= -32) {
        out_.push_back(static_cast<std::uint8_t>(v));
    } else if (v >= INT8_MIN) {
        out_.push_back(0xd0);
        be(static_cast<std::uint64_t>(v), 1);
    } else if (v >= INT16_MIN) {
        out_.push_back(0xd1);
        be(static_cast<std::uint64_t>(v), 2);
    } else if (v >= INT32_MIN) {
        out_.push_back(0xd2);
        be(static_cast<std::uint64_t>(v), 4);
    } else {
        out_.push_back(0xd3);
        be(static_cast<std::uint64_t>(v), 8);
    }
}

void Writer::str(std::string_view s) {
    // go-msgpack without WriteExt never uses str8: fixstr, then str16, then str32.
    if (s.size() < 32) {
        out_.push_back(static_cast<std::uint8_t>(0xa0 | s.size()));
    } else if (s.size() < 65536) {
        out_.push_back(0xda);
        be(s.size(), 2);
    } else {
        out_.push_back(0xdb);
        be(s.size(), 4);
    }
    out_.insert(out_.end(), s.begin(), s.end());
}

void Writer::bytes(base::ByteView b) {
    if (b.empty()) {
        nil();
        return;
    }
    bytes_nonnil(b);
}

void Writer::bytes_nonnil(base::ByteView b) {
    str(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

void Writer::array_header(std::size_t n) {
    if (n < 16) {
        out_.push_back(static_cast<std::uint8_t>(0x90 | n));
    } else if (n < 65536) {
        out_.push_back(0xdc);
        be(n, 2);
    } else {
        out_.push_back(0xdd);
        be(n, 4);
    }
}

void Writer::map_header(std::size_t n) {
    if (n < 16) {
        out_.push_back(static_cast<std::uint8_t>(0x80 | n));
    } else if (n < 65536) {
        out_.push_back(0xde);
        be(n, 2);
    } else {
        out_.push_back(0xdf);
        be(n, 4);
    }
}

// ---------------- Reader ----------------

base::Result<std::uint8_t> Reader::byte() {
    if (pos_ >= in_.size()) return truncated("expected a byte");
    return in_[pos_++];
}

base::Result<std::uint64_t> Reader::be(int nbytes) {
    if (remaining() < static_cast<std::size_t>(nbytes)) return truncated("short integer");
    std::uint64_t v = 0;
    for (int i = 0; i < nbytes; ++i) v = (v << 8) | in_[pos_++];
    return v;
}

base::Result<bool> Reader::try_nil() {
    if (at_end()) return truncated("expected a value");
    if (in_[pos_] == 0xc0) {
        ++pos_;
        return true;
    }
    return false;
}

base::Result<std::int64_t> Reader::sint() {
    auto b = byte();
    if (!b) return b.error();
    std::uint8_t t = *b;
    if (t <= 0x7f) return static_cast<std::int64_t>(t);
    if (t >= 0xe0) return static_cast<std::int64_t>(static_cast<std::int8_t>(t));
    switch (t) {
        case 0xcc: case 0xcd: case 0xce: case 0xcf: {
            int n = 1 << (t - 0xcc);
            auto v = be(n);
            if (!v) return v.error();
            if (*v > static_cast<std::uint64_t>(INT64_MAX)) return malformed("integer overflows int64");
            return static_cast<std::int64_t>(*v);
        }
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            int n = 1 << (t - 0xd0);
            auto v = be(n);
            if (!v) return v.error();
            std::uint64_t u = *v;
            int bits = 8 * n;
            if (bits < 64 && (u >> (bits - 1)) & 1) u |= ~0ULL << bits;  // sign-extend
            return static_cast<std::int64_t>(u);
        }
        default:
            return malformed("expected an integer");
    }
}

base::Result<std::uint64_t> Reader::uint(std::uint64_t max) {
    if (at_end()) return truncated("expected an integer");
    std::uint8_t t = in_[pos_];
    std::uint64_t v = 0;
    if (t == 0xcf) {
        ++pos_;
        auto r = be(8);
        if (!r) return r.error();
        v = *r;
    } else {
        auto s = sint();
        if (!s) return s.error();
        if (*s < 0) return malformed("negative value for an unsigned field");
        v = static_cast<std::uint64_t>(*s);
    }
    if (v > max) return malformed("integer out of range");
    return v;
}

base::Result<bool> Reader::boolean() {
    auto b = byte();
    if (!b) return b.error();
    if (*b == 0xc3) return true;
    if (*b == 0xc2) return false;
    if (*b == 0xc0) return false;
    return malformed("expected a bool");
}

base::Result<std::size_t> Reader::raw_len(bool allow_nil) {
    auto b = byte();
    if (!b) return b.error();
    std::uint8_t t = *b;
    std::uint64_t n = 0;
    if ((t & 0xe0) == 0xa0) {
        n = t & 0x1f;
    } else if (t == 0xd9 || t == 0xc4) {
        auto v = be(1);
        if (!v) return v.error();
        n = *v;
    } else if (t == 0xda || t == 0xc5) {
        auto v = be(2);
        if (!v) return v.error();
        n = *v;
    } else if (t == 0xdb || t == 0xc6) {
        auto v = be(4);
        if (!v) return v.error();
        n = *v;
    } else if (t == 0xc0 && allow_nil) {
        return std::size_t{0};
    } else {
        return malformed("expected a string or bytes");
    }
    if (n > remaining()) return truncated("string length " + std::to_string(n) + " exceeds remaining " +
                                          std::to_string(remaining()) + " bytes");
    return static_cast<std::size_t>(n);
}

base::Result<std::string> Reader::str() {
    auto n = raw_len(true);
    if (!n) return n.error();
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), *n);
    pos_ += *n;
    return s;
}

base::Result<base::Bytes> Reader::bytes() {
    auto n = raw_len(true);
    if (!n) return n.error();
    base::Bytes b(in_.begin() + static_cast<std::ptrdiff_t>(pos_), in_.begin() + static_cast<std::ptrdiff_t>(pos_ + *n));
    pos_ += *n;
    return b;
}

base::Result<std::size_t> Reader::array_header() {
    auto b = byte();
    if (!b) return b.error();
    std::uint8_t t = *b;
    std::uint64_t n = 0;
    if ((t & 0xf0) == 0x90) {
        n = t & 0x0f;
    } else if (t == 0xdc) {
        auto v = be(2);
        if (!v) return v.error();
        n = *v;
    } else if (t == 0xdd) {
        auto v = be(4);
        if (!v) return v.error();
        n = *v;
    } else if (t == 0xc0) {
        return std::size_t{0};
    } else {
        return malformed("expected an array");
    }
    // every element takes at least one byte
    if (n > remaining()) return truncated("array of " + std::to_string(n) + " elements in " +
                                          std::to_string(remaining()) + " bytes");
    return static_cast<std::size_t>(n);
}

base::Result<std::size_t> Reader::map_header() {
    auto b = byte();
    if (!b) return b.error();
    std::uint8_t t = *b;
    std::uint64_t n = 0;
    if ((t & 0xf0) == 0x80) {
        n = t & 0x0f;
    } else if (t == 0xde) {
        auto v = be(2);
        if (!v) return v.error();
        n = *v;
    } else if (t == 0xdf) {
        auto v = be(4);
        if (!v) return v.error();
        n = *v;
    } else if (t == 0xc0) {
        return std::size_t{0};
    } else {
        return malformed("expected a map");
    }
    if (n > remaining() / 2) return truncated("map of " + std::to_string(n) + " entries in " +
                                              std::to_string(remaining()) + " bytes");
    return static_cast<std::size_t>(n);
}

base::Status Reader::skip() { return skip_depth(0); }

base::Status Reader::skip_depth(int depth) {
    if (depth > kMaxDepth) return malformed("nesting too deep");
    auto b = byte();
    if (!b) return b.error();
    std::uint8_t t = *b;
    auto advance = [&](std::uint64_t n) -> base::Status {
        if (n > remaining()) return truncated("value runs past the end");
        pos_ += static_cast<std::size_t>(n);
        return base::ok_status();
    };
    auto children = [&](std::uint64_t n) -> base::Status {
        if (n > remaining()) return truncated("container runs past the end");
        for (std::uint64_t i = 0; i < n; ++i) {
            if (auto s = skip_depth(depth + 1); !s) return s;
        }
        return base::ok_status();
    };
    auto len = [&](int nbytes) -> base::Result<std::uint64_t> { return be(nbytes); };

    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) return base::ok_status();
    if ((t & 0xe0) == 0xa0) return advance(t & 0x1f);
    if ((t & 0xf0) == 0x90) return children(t & 0x0f);
    if ((t & 0xf0) == 0x80) return children(2ULL * (t & 0x0f));
    switch (t) {
        case 0xcc: case 0xd0: return advance(1);
        case 0xcd: case 0xd1: return advance(2);
        case 0xce: case 0xd2: case 0xca: return advance(4);
        case 0xcf: case 0xd3: case 0xcb: return advance(8);
        case 0xd4: return advance(2);
        case 0xd5: return advance(3);
        case 0xd6: return advance(5);
        case 0xd7: return advance(9);
        case 0xd8: return advance(17);
        case 0xc4: case 0xd9: { auto n = len(1); if (!n) return n.error(); return advance(*n); }
        case 0xc5: case 0xda: { auto n = len(2); if (!n) return n.error(); return advance(*n); }
        case 0xc6: case 0xdb: { auto n = len(4); if (!n) return n.error(); return advance(*n); }
        case 0xc7: { auto n = len(1); if (!n) return n.error(); return advance(*n + 1); }
        case 0xc8: { auto n = len(2); if (!n) return n.error(); return advance(*n + 1); }
        case 0xc9: { auto n = len(4); if (!n) return n.error(); return advance(*n + 1); }
        case 0xdc: { auto n = len(2); if (!n) return n.error(); return children(*n); }
        case 0xdd: { auto n = len(4); if (!n) return n.error(); return children(*n); }
        case 0xde: { auto n = len(2); if (!n) return n.error(); return children(*n * 2); }
        case 0xdf: { auto n = len(4); if (!n) return n.error(); return children(*n * 2); }
        default: return malformed("reserved type byte 0xc1");
    }
}

base::Result<std::optional<std::size_t>> Reader::measure() const {
    Reader copy = *this;
    auto s = copy.skip();
    if (!s) {
        if (s.error().code == "truncated") return std::optional<std::size_t>{};
        return s.error();
    }
    return std::optional<std::size_t>{copy.pos_ - pos_};
}

}  // namespace clusterd::wire::mp
