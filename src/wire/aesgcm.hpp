// AES-GCM (128/192/256 by key length) through OpenSSL EVP, in memberlist's layout:
// [version][12-byte nonce][ciphertext][16-byte tag]; version 0 pads the plaintext with PKCS7.
#pragma once

#include <cstdint>
#include <span>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"

namespace clusterd::wire::detail {

inline constexpr std::size_t kNonceSize = 12;
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kBlockSize = 16;

/// Encrypted size for a plaintext of n bytes (memberlist encryptedLength).
std::size_t encrypted_length(int version, std::size_t n);

/// Appends [version][nonce][ciphertext+tag] to out. version 0 or 1; key 16/24/32 bytes.
base::Status aes_gcm_seal(int version, base::ByteView key, std::span<const std::uint8_t, kNonceSize> nonce,
                          base::ByteView plain, base::ByteView aad, base::Bytes& out);

/// Opens [version][nonce][ciphertext+tag] with one key. Error "decrypt_failed" on a wrong key or
/// tampering, "malformed" on a bad version byte or padding.
base::Result<base::Bytes> aes_gcm_open(base::ByteView key, base::ByteView msg, base::ByteView aad);

} // namespace clusterd::wire::detail
