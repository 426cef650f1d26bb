// Test helpers: build IPC request bytes and split a response byte stream into frames
// (a header, optionally followed by a body object).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "clusterd/rpc/protocol.hpp"

namespace clusterd::rpc::testing {

inline base::Bytes req(std::string_view command, std::uint64_t seq) {
    base::Bytes b;
    encode(b, RequestHeader{std::string(command), seq});
    return b;
}

template <typename T> base::Bytes req(std::string_view command, std::uint64_t seq, const T& body) {
    base::Bytes b = req(command, seq);
    encode(b, body);
    return b;
}

inline base::Bytes cat(std::initializer_list<base::Bytes> parts) {
    base::Bytes all;
    for (const auto& p : parts)
        all.insert(all.end(), p.begin(), p.end());
    return all;
}

struct Frame {
    ResponseHeader header;
    std::optional<Body> body;
};

inline bool looks_like_header(const msgpack::Value& v) {
    return v.is_map() && v.map_size() == 2 && v.find("Seq") != nullptr && v.find("Error") != nullptr;
}

/// Splits bytes into frames; a non-header object after a header is its body.
inline std::vector<Frame> frames(base::ByteView bytes) {
    std::vector<Frame> out;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        msgpack::Reader r(bytes.subspan(pos), msgpack::Limits{1 << 24, 32});
        auto e = r.measure();
        if (!e || !e->complete)
            break;
        auto v = msgpack::read_value(r);
        if (!v)
            break;
        Body b;
        static_cast<msgpack::Value&>(b) = std::move(*v);
        b.raw.assign(bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                     bytes.begin() + static_cast<std::ptrdiff_t>(pos + e->size));
        pos += e->size;
        if (looks_like_header(b)) {
            Frame f;
            (void)decode(b, f.header);
            out.push_back(std::move(f));
        } else if (!out.empty() && !out.back().body) {
            out.back().body = std::move(b);
        }
    }
    return out;
}

inline base::Bytes handshake(std::uint64_t seq = 1) {
    return req("handshake", seq, HandshakeRequest{1});
}

} // namespace clusterd::rpc::testing
