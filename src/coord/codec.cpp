// msgpack codec of the coordinate carried in ping acks (see codec.hpp), on the one msgpack core.
#include "clusterd/coord/codec.hpp"

#include <string>

#include "clusterd/codec/msgpack/fields.hpp"

namespace clusterd::coord {

namespace msgpack = codec::msgpack;

/// Serf's coordinate.Coordinate as its ping delegate writes it: every number a float64, Vec an
/// array even when empty, in this order.
constexpr auto msgpack_fields(const Coordinate*) {
    using msgpack::field;
    return msgpack::fields(field("Vec", &Coordinate::vec), field("Error", &Coordinate::error),
                           field("Adjustment", &Coordinate::adjustment),
                           field("Height", &Coordinate::height));
}

namespace {
// Dimensionality is tiny (8); a longer vector, key or deeper nesting is hostile input.
constexpr msgpack::Limits kLimits{64, 4};
} // namespace

base::Bytes encode_coordinate(const Coordinate& c) {
    return msgpack::encode(c, msgpack::Dialect::Gossip);
}

base::Result<Coordinate> decode_coordinate(base::ByteView data) {
    auto c = msgpack::decode<Coordinate>(data, kLimits);
    if (!c)
        return c.error().with_prefix("coordinate");
    return c;
}

base::Bytes encode_ping_payload(const Coordinate& c) {
    base::Bytes out{kPingVersion};
    msgpack::encode_into(out, c, msgpack::Dialect::Gossip);
    return out;
}

base::Result<Coordinate> decode_ping_payload(base::ByteView payload) {
    if (payload.empty())
        return base::make_error("empty", "ping payload is empty");
    if (payload[0] != kPingVersion)
        return base::make_error("bad_version", "unsupported ping version " + std::to_string(payload[0]));
    return decode_coordinate(payload.subspan(1));
}

} // namespace clusterd::coord
