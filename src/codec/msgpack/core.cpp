// The msgpack Writer and bounded pull Reader (see core.hpp).
#include "clusterd/codec/msgpack/core.hpp"

#include <cstring>

namespace clusterd::codec::msgpack {

// ---------------------------------------------------------------- Writer

void Writer::be(std::uint64_t v, int nbytes) {
    for (int i = nbytes - 1; i >= 0; --i)
        put(static_cast<std::uint8_t>(v >> (8 * i)));
}

void Writer::uint(std::uint64_t v) {
    if (v <= 0x7f)
        return put(static_cast<std::uint8_t>(v));
    int n = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffULL ? 4 : 8;
    put(static_cast<std::uint8_t>(n == 1 ? 0xcc : n == 2 ? 0xcd : n == 4 ? 0xce : 0xcf));
    be(v, n);
}

void Writer::sint(std::int64_t v) {
    if (v >= 0)
        return uint(static_cast<std::uint64_t>(v));
    const auto u = static_cast<std::uint64_t>(v);
    if (v >= -32)
        return put(static_cast<std::uint8_t>(u));
    int n = v >= INT8_MIN ? 1 : v >= INT16_MIN ? 2 : v >= INT32_MIN ? 4 : 8;
    put(static_cast<std::uint8_t>(n == 1 ? 0xd0 : n == 2 ? 0xd1 : n == 4 ? 0xd2 : 0xd3));
    be(u, n);
}

void Writer::f64(double v) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    put(0xcb);
    be(bits, 8);
}

// One header: the fix form up to fix_max, then the 16-bit and 32-bit forms (tag16 + 1).
void Writer::head(std::uint8_t fix_tag, std::size_t fix_max, std::uint8_t tag16, std::size_t n) {
    if (n <= fix_max)
        return put(static_cast<std::uint8_t>(fix_tag | n));
    if (n <= 0xffff) {
        put(tag16);
        return be(n, 2);
    }
    put(static_cast<std::uint8_t>(tag16 + 1));
    be(n, 4);
}

void Writer::str(std::string_view s) {
    // go-msgpack without WriteExt (gossip) never writes str8; the IPC handle does.
    if (dialect_ == Dialect::Ipc && s.size() > 31 && s.size() <= 0xff) {
        put(0xd9);
        be(s.size(), 1);
    } else {
        head(0xa0, 31, 0xda, s.size());
    }
    raw(base::ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

void Writer::bytes(base::ByteView b) {
    if (dialect_ == Dialect::Gossip) {
        str(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
        return;
    }
    int n = b.size() <= 0xff ? 1 : b.size() <= 0xffff ? 2 : 4;
    put(static_cast<std::uint8_t>(n == 1 ? 0xc4 : n == 2 ? 0xc5 : 0xc6));
    be(b.size(), n);
    raw(b);
}

void Writer::bytes_or_nil(base::ByteView b) {
    if (b.empty())
        return nil();
    bytes(b);
}

void Writer::array_header(std::size_t n) {
    head(0x90, 15, 0xdc, n);
}
void Writer::map_header(std::size_t n) {
    head(0x80, 15, 0xde, n);
}

// ---------------------------------------------------------------- Reader

base::Error Reader::fail(std::string code, std::string_view what) const {
    std::string path;
    const std::size_t n = depth_path_ < path_.size() ? depth_path_ : path_.size();
    for (std::size_t i = 0; i < n; ++i) {
        const Seg& s = path_[i];
        if (s.index == kNoIndex) {
            if (!path.empty())
                path += '.';
            path += s.name;
        } else {
            path += '[' + std::to_string(s.index) + ']';
        }
    }
    std::string msg = path.empty() ? std::string(what) : path + ": " + std::string(what);
    return base::make_error(std::move(code), std::move(msg));
}

base::Error Reader::short_input(std::size_t want, std::string_view what) {
    need_ = pos_ + want;
    return fail("truncated", std::string(what) + ": needs " + std::to_string(want) + " bytes, " +
                                 std::to_string(remaining()) + " remain");
}

base::Status Reader::descend_slow() {
    if (depth_ >= limits_.max_depth)
        return fail("too_deep", "nesting deeper than " + std::to_string(limits_.max_depth));
    ++depth_;
    return base::ok_status();
}

base::Result<std::uint8_t> Reader::byte() {
    if (pos_ >= in_.size())
        return short_input(1, "expected a value");
    return in_[pos_++];
}

base::Result<std::uint64_t> Reader::be(int nbytes) {
    if (remaining() < static_cast<std::size_t>(nbytes))
        return short_input(static_cast<std::size_t>(nbytes), "short length or number");
    std::uint64_t v = 0;
    for (int i = 0; i < nbytes; ++i)
        v = (v << 8) | in_[pos_++];
    return v;
}

base::Result<std::size_t> Reader::count(std::uint64_t n, std::size_t per_elem, const char* what) {
    if (n > limits_.max_len)
        return fail("too_large", std::string(what) + " of " + std::to_string(n) + " exceeds the limit of " +
                                     std::to_string(limits_.max_len));
    // Each element takes at least per_elem bytes: a claim the input cannot hold is caught here.
    if (n * per_elem > remaining())
        return short_input(static_cast<std::size_t>(n * per_elem), what);
    return static_cast<std::size_t>(n);
}

base::Result<Kind> Reader::peek() const {
    if (at_end())
        return fail("truncated", "expected a value");
    const std::uint8_t t = in_[pos_];
    if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3))
        return Kind::Int;
    if ((t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb))
        return Kind::Str;
    if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd)
        return Kind::Array;
    if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf)
        return Kind::Map;
    switch (t) {
    case 0xc0:
        return Kind::Nil;
    case 0xc2:
    case 0xc3:
        return Kind::Bool;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        return Kind::Bin;
    case 0xca:
    case 0xcb:
        return Kind::Float;
    case 0xc1:
        return fail("malformed", "reserved type byte 0xc1");
    default:
        return Kind::Ext;
    }
}

base::Result<bool> Reader::try_nil_slow() {
    if (at_end())
        return short_input(1, "expected a value");
    if (in_[pos_] != 0xc0)
        return false;
    ++pos_;
    return true;
}

base::Result<std::int64_t> Reader::sint(std::int64_t min, std::int64_t max) {
    auto b = byte();
    if (!b)
        return b.error();
    const std::uint8_t t = *b;
    std::int64_t v = 0;
    if (t <= 0x7f) {
        v = t;
    } else if (t >= 0xe0) {
        v = static_cast<std::int8_t>(t);
    } else if (t >= 0xcc && t <= 0xcf) {
        auto u = be(1 << (t - 0xcc));
        if (!u)
            return u.error();
        if (*u > static_cast<std::uint64_t>(INT64_MAX))
            return fail("malformed", "integer overflows int64");
        v = static_cast<std::int64_t>(*u);
    } else if (t >= 0xd0 && t <= 0xd3) {
        const int n = 1 << (t - 0xd0);
        auto u = be(n);
        if (!u)
            return u.error();
        std::uint64_t x = *u;
        if (n < 8 && ((x >> (8 * n - 1)) & 1))
            x |= ~0ULL << (8 * n); // sign-extend
        v = static_cast<std::int64_t>(x);
    } else {
        --pos_;
        return fail("malformed", "expected an integer, got type byte " + std::to_string(t));
    }
    if (v < min || v > max)
        return fail("malformed", "integer " + std::to_string(v) + " out of range");
    return v;
}

base::Result<std::uint64_t> Reader::uint_slow(std::uint64_t max) {
    if (at_end())
        return short_input(1, "expected an integer");
    std::uint64_t v = 0;
    if (in_[pos_] == 0xcf) {
        ++pos_;
        auto r = be(8);
        if (!r)
            return r.error();
        v = *r;
    } else {
        auto s = sint();
        if (!s)
            return s.error();
        if (*s < 0)
            return fail("malformed", "negative value for an unsigned field");
        v = static_cast<std::uint64_t>(*s);
    }
    if (v > max)
        return fail("malformed", "integer " + std::to_string(v) + " out of range");
    return v;
}

base::Result<double> Reader::f64() {
    if (at_end())
        return short_input(1, "expected a number");
    const std::uint8_t t = in_[pos_];
    if (t == 0xca || t == 0xcb) {
        ++pos_;
        auto bits = be(t == 0xca ? 4 : 8);
        if (!bits)
            return bits.error();
        if (t == 0xcb) {
            double d = 0;
            std::memcpy(&d, &*bits, sizeof d);
            return d;
        }
        const auto b32 = static_cast<std::uint32_t>(*bits);
        float f = 0;
        std::memcpy(&f, &b32, sizeof f);
        return static_cast<double>(f);
    }
    if (t == 0xcf) {
        auto u = uint();
        if (!u)
            return u.error();
        return static_cast<double>(*u);
    }
    auto i = sint();
    if (!i)
        return fail("malformed", "expected a number");
    return static_cast<double>(*i);
}

base::Result<bool> Reader::boolean() {
    auto b = byte();
    if (!b)
        return b.error();
    if (*b == 0xc3)
        return true;
    if (*b == 0xc2 || *b == 0xc0)
        return false;
    --pos_;
    return fail("malformed", "expected a bool");
}

base::Result<std::size_t> Reader::raw_len() {
    auto b = byte();
    if (!b)
        return b.error();
    const std::uint8_t t = *b;
    std::uint64_t n = 0;
    if ((t & 0xe0) == 0xa0) {
        n = t & 0x1f;
    } else if (t == 0xc0) {
        return std::size_t{0};
    } else if ((t >= 0xd9 && t <= 0xdb) || (t >= 0xc4 && t <= 0xc6)) {
        auto v = be(1 << (t >= 0xd9 ? t - 0xd9 : t - 0xc4));
        if (!v)
            return v.error();
        n = *v;
    } else {
        --pos_;
        return fail("malformed", "expected a string or bytes");
    }
    return count(n, 1, "string");
}

base::Result<std::string_view> Reader::str_view_slow() {
    auto n = raw_len();
    if (!n)
        return n.error();
    std::string_view s(reinterpret_cast<const char*>(in_.data() + pos_), *n);
    pos_ += *n;
    return s;
}

base::Result<std::string> Reader::str() {
    auto v = str_view();
    if (!v)
        return v.error();
    return std::string(*v);
}

base::Result<base::Bytes> Reader::bytes() {
    auto v = str_view();
    if (!v)
        return v.error();
    return base::Bytes(v->begin(), v->end());
}

// Array (fix 0x90, 0xdc, 0xdd) and map (fix 0x80, 0xde, 0xdf) headers; nil is an empty one.
base::Result<std::size_t> Reader::container(std::uint8_t fix, std::size_t per_elem, const char* what) {
    auto b = byte();
    if (!b)
        return b.error();
    const std::uint8_t t = *b;
    const std::uint8_t t16 = fix == 0x90 ? 0xdc : 0xde;
    std::uint64_t n = 0;
    if ((t & 0xf0) == fix) {
        n = t & 0x0f;
    } else if (t == t16 || t == t16 + 1) {
        auto v = be(t == t16 ? 2 : 4);
        if (!v)
            return v.error();
        n = *v;
    } else if (t == 0xc0) {
        return std::size_t{0};
    } else {
        --pos_;
        return fail("malformed", std::string("expected ") + (fix == 0x90 ? "an " : "a ") + what);
    }
    return count(n, per_elem, what);
}

base::Result<std::size_t> Reader::array_header() {
    return container(0x90, 1, "array");
}
base::Result<std::size_t> Reader::map_header() {
    return container(0x80, 2, "map");
}

base::Result<base::ByteView> Reader::raw(std::size_t n) {
    if (n > remaining())
        return short_input(n, "raw bytes");
    base::ByteView v = in_.subspan(pos_, n);
    pos_ += n;
    return v;
}

base::Status Reader::skip() {
    return skip_depth(depth_);
}

base::Status Reader::skip_depth(int depth) {
    if (depth > limits_.max_depth)
        return fail("too_deep", "nesting deeper than " + std::to_string(limits_.max_depth));
    auto b = byte();
    if (!b)
        return b.error();
    const std::uint8_t t = *b;
    auto advance = [&](std::uint64_t n) -> base::Status {
        auto c = count(n, 1, "value");
        if (!c)
            return c.error();
        pos_ += *c;
        return base::ok_status();
    };
    auto children = [&](std::uint64_t n, std::size_t per) -> base::Status {
        auto c = count(n, per, per == 2 ? "map" : "array");
        if (!c)
            return c.error();
        for (std::size_t i = 0; i < *c * per; ++i) {
            if (auto s = skip_depth(depth + 1); !s)
                return s;
        }
        return base::ok_status();
    };
    auto prefixed = [&](int nbytes, std::uint64_t extra) -> base::Status {
        auto n = be(nbytes);
        if (!n)
            return n.error();
        return advance(*n + extra);
    };
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
        return base::ok_status();
    if ((t & 0xe0) == 0xa0)
        return advance(t & 0x1f);
    if ((t & 0xf0) == 0x90)
        return children(t & 0x0f, 1);
    if ((t & 0xf0) == 0x80)
        return children(t & 0x0f, 2);
    switch (t) {
    case 0xcc:
    case 0xd0:
        return advance(1);
    case 0xcd:
    case 0xd1:
    case 0xd4:
        return advance(2);
    case 0xd5:
        return advance(3);
    case 0xce:
    case 0xd2:
    case 0xca:
        return advance(4);
    case 0xd6:
        return advance(5);
    case 0xcf:
    case 0xd3:
    case 0xcb:
        return advance(8);
    case 0xd7:
        return advance(9);
    case 0xd8:
        return advance(17);
    case 0xc4:
    case 0xd9:
        return prefixed(1, 0);
    case 0xc5:
    case 0xda:
        return prefixed(2, 0);
    case 0xc6:
    case 0xdb:
        return prefixed(4, 0);
    case 0xc7:
        return prefixed(1, 1);
    case 0xc8:
        return prefixed(2, 1);
    case 0xc9:
        return prefixed(4, 1);
    case 0xdc:
    case 0xdd: {
        auto n = be(t == 0xdc ? 2 : 4);
        if (!n)
            return n.error();
        return children(*n, 1);
    }
    case 0xde:
    case 0xdf: {
        auto n = be(t == 0xde ? 2 : 4);
        if (!n)
            return n.error();
        return children(*n, 2);
    }
    default:
        return fail("malformed", "reserved type byte 0xc1");
    }
}

base::Result<Extent> Reader::measure() const {
    Reader copy = *this;
    auto s = copy.skip();
    if (!s) {
        if (s.error().code != "truncated")
            return s.error();
        std::size_t need = copy.need_ > pos_ ? copy.need_ - pos_ : 1;
        if (need <= remaining())
            need = remaining() + 1;
        return Extent{false, 0, need};
    }
    return Extent{true, copy.pos_ - pos_, 0};
}

} // namespace clusterd::codec::msgpack
