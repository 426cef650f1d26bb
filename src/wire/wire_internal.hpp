// What the wire codec files share privately: names from base and the gossip dialect.
#pragma once

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/codec/msgpack/core.hpp"

namespace clusterd::wire::detail {

using base::Bytes;
using base::ByteView;
using base::make_error;
using base::Result;

inline constexpr auto kGossip = codec::msgpack::Dialect::Gossip;

} // namespace clusterd::wire::detail
