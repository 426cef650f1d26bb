// msgpack codec of the coordinate carried in ping acks (see codec.hpp). msgpack-cxx stays private.
#include "clusterd/coord/codec.hpp"

#include <msgpack.hpp>

#include <cstring>
#include <string>

namespace clusterd::coord {
namespace {

// Dimensionality is tiny (8); anything larger than this is hostile input.
constexpr std::size_t kMaxDims = 64;

bool as_double(const msgpack::object& o, double& out) {
    switch (o.type) {
        case msgpack::type::FLOAT32:
        case msgpack::type::FLOAT64: out = o.via.f64; return true;
        case msgpack::type::POSITIVE_INTEGER: out = static_cast<double>(o.via.u64); return true;
        case msgpack::type::NEGATIVE_INTEGER: out = static_cast<double>(o.via.i64); return true;
        default: return false;
    }
}

bool key_string(const msgpack::object& o, std::string& out) {
    if (o.type == msgpack::type::STR) {
        out.assign(o.via.str.ptr, o.via.str.size);
        return true;
    }
    if (o.type == msgpack::type::BIN) {
        out.assign(o.via.bin.ptr, o.via.bin.size);
        return true;
    }
    return false;
}

base::Error malformed(const std::string& what) { return base::make_error("malformed", "coordinate: " + what); }

}  // namespace

base::Bytes encode_coordinate(const Coordinate& c) {
    // Hand-written so every float is a float64 (0xcb) as go-msgpack writes it; msgpack-cxx
    // would shrink integral doubles to ints.
    base::Bytes out;
    auto str = [&](const char* s, std::uint8_t len) {
        out.push_back(static_cast<std::uint8_t>(0xa0 | len));
        out.insert(out.end(), s, s + len);
    };
    auto f64 = [&](double d) {
        std::uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        out.push_back(0xcb);
        for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
    };
    out.push_back(0x84);
    str("Vec", 3);
    std::size_t n = c.vec.size();
    if (n < 16) {
        out.push_back(static_cast<std::uint8_t>(0x90 | n));
    } else {
        out.push_back(0xdc);
        out.push_back(static_cast<std::uint8_t>(n >> 8));
        out.push_back(static_cast<std::uint8_t>(n));
    }
    for (double x : c.vec) f64(x);
    str("Error", 5);
    f64(c.error);
    str("Adjustment", 10);
    f64(c.adjustment);
    str("Height", 6);
    f64(c.height);
    return out;
}

base::Result<Coordinate> decode_coordinate(base::ByteView data) {
    msgpack::object_handle oh;
    try {
        std::size_t off = 0;
        msgpack::unpack_limit limit(/*array*/ kMaxDims, /*map*/ 16, /*str*/ 64, /*bin*/ 64, /*ext*/ 0,
                                    /*depth*/ 4);
        oh = msgpack::unpack(reinterpret_cast<const char*>(data.data()), data.size(), off, nullptr, nullptr, limit);
    } catch (const std::exception& e) {
        return malformed(std::string("undecodable msgpack: ") + e.what());
    }
    const msgpack::object& root = oh.get();
    if (root.type != msgpack::type::MAP) return malformed("not a map");
    Coordinate c;
    for (std::uint32_t i = 0; i < root.via.map.size; ++i) {
        const auto& kv = root.via.map.ptr[i];
        std::string key;
        if (!key_string(kv.key, key)) return malformed("non-string key");
        if (key == "Vec") {
            if (kv.val.type == msgpack::type::NIL) {
                c.vec.clear();
                continue;
            }
            if (kv.val.type != msgpack::type::ARRAY) return malformed("Vec is not an array");
            c.vec.resize(kv.val.via.array.size);
            for (std::uint32_t j = 0; j < kv.val.via.array.size; ++j)
                if (!as_double(kv.val.via.array.ptr[j], c.vec[j])) return malformed("Vec element is not a number");
        } else if (key == "Error") {
            if (!as_double(kv.val, c.error)) return malformed("Error is not a number");
        } else if (key == "Adjustment") {
            if (!as_double(kv.val, c.adjustment)) return malformed("Adjustment is not a number");
        } else if (key == "Height") {
            if (!as_double(kv.val, c.height)) return malformed("Height is not a number");
        }
    }
    return c;
}

base::Bytes encode_ping_payload(const Coordinate& c) {
    base::Bytes out{kPingVersion};
    base::Bytes body = encode_coordinate(c);
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

base::Result<Coordinate> decode_ping_payload(base::ByteView payload) {
    if (payload.empty()) return base::make_error("empty", "ping payload is empty");
    if (payload[0] != kPingVersion)
        return base::make_error("bad_version", "unsupported ping version " + std::to_string(payload[0]));
    return decode_coordinate(payload.subspan(1));
}

}  // namespace clusterd::coord
