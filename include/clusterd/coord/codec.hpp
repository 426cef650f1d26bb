// The coordinate as it travels in memberlist ping acks (Serf's ping delegate): one version byte
// (kPingVersion = 1) followed by the go-msgpack encoding of {Vec, Error, Adjustment, Height}.
#pragma once

#include <cstdint>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/coord/coordinate.hpp"

namespace clusterd::coord {

inline constexpr std::uint8_t kPingVersion = 1;

/// msgpack map {"Vec":[f64...], "Error":f64, "Adjustment":f64, "Height":f64} (Go field order).
base::Bytes encode_coordinate(const Coordinate& c);
/// Parses that map (keys in any order, ints accepted for floats, unknown keys skipped).
base::Result<Coordinate> decode_coordinate(base::ByteView msgpack);

/// [kPingVersion][encode_coordinate(c)]
base::Bytes encode_ping_payload(const Coordinate& c);
/// Errors: "empty", "bad_version", "malformed".
base::Result<Coordinate> decode_ping_payload(base::ByteView payload);

} // namespace clusterd::coord
