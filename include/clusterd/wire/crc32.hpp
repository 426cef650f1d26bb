// CRC-32 (IEEE 802.3 polynomial, as Go's hash/crc32.ChecksumIEEE) for memberlist's hasCrc header.
#pragma once

#include <cstdint>

#include "clusterd/base/bytes.hpp"

namespace clusterd::wire {

std::uint32_t crc32_ieee(base::ByteView data);

} // namespace clusterd::wire
