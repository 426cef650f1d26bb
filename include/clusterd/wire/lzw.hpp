// LZW exactly as Go's compress/lzw with Order LSB and litWidth 8 (what memberlist uses):
// 9..12-bit codes, clear = 256, eof = 257, a leading clear code, LSB-first bit packing.
#pragma once

#include <cstddef>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"

namespace clusterd::wire {

/// Compresses like lzw.NewWriter(w, lzw.LSB, 8) + Write(all) + Close().
base::Bytes lzw_compress(base::ByteView in);

/// Decompresses a complete stream (must end with the eof code). Errors: "bad_compression"
/// (invalid code, missing eof), "too_large" (output would exceed max_out bytes).
base::Result<base::Bytes> lzw_decompress(base::ByteView in, std::size_t max_out);

} // namespace clusterd::wire
