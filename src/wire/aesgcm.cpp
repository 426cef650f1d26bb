// OpenSSL EVP AES-GCM for memberlist's encrypted payloads (security.go layout; own code).
#include "aesgcm.hpp"

#include <openssl/evp.h>

#include <memory>

namespace clusterd::wire::detail {

namespace {

struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const EVP_CIPHER* cipher_for(std::size_t key_len) {
    switch (key_len) {
    case 16:
        return EVP_aes_128_gcm();
    case 24:
        return EVP_aes_192_gcm();
    case 32:
        return EVP_aes_256_gcm();
    default:
        return nullptr;
    }
}

base::Error crypto_error(const char* what) {
    return base::make_error("crypto", std::string("openssl: ") + what);
}

} // namespace

std::size_t encrypted_length(int version, std::size_t n) {
    if (version >= 1)
        return 1 + kNonceSize + n + kTagSize;
    return 1 + kNonceSize + n + (kBlockSize - n % kBlockSize) + kTagSize;
}

base::Status aes_gcm_seal(int version, base::ByteView key, std::span<const std::uint8_t, kNonceSize> nonce,
                          base::ByteView plain, base::ByteView aad, base::Bytes& out) {
    const EVP_CIPHER* cipher = cipher_for(key.size());
    if (!cipher)
        return base::make_error("bad_key", "key size must be 16, 24 or 32 bytes");
    if (version != 0 && version != 1)
        return base::make_error("bad_version", "unsupported encryption version " + std::to_string(version));
    base::Bytes padded;
    base::ByteView src = plain;
    if (version == 0) {
        std::size_t more = kBlockSize - plain.size() % kBlockSize;
        padded.assign(plain.begin(), plain.end());
        padded.insert(padded.end(), more, static_cast<std::uint8_t>(more));
        src = padded;
    }
    Ctx ctx(EVP_CIPHER_CTX_new());
    if (!ctx)
        return crypto_error("EVP_CIPHER_CTX_new");
    if (EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), nonce.data()) != 1)
        return crypto_error("EncryptInit");
    int len = 0;
    if (!aad.empty() &&
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)
        return crypto_error("EncryptUpdate(aad)");
    std::size_t start = out.size();
    out.push_back(static_cast<std::uint8_t>(version));
    out.insert(out.end(), nonce.begin(), nonce.end());
    std::size_t ct = out.size();
    out.resize(ct + src.size() + kTagSize);
    if (!src.empty() &&
        EVP_EncryptUpdate(ctx.get(), out.data() + ct, &len, src.data(), static_cast<int>(src.size())) != 1) {
        out.resize(start);
        return crypto_error("EncryptUpdate");
    }
    int fin = 0;
    if (EVP_EncryptFinal_ex(ctx.get(), out.data() + ct + src.size(), &fin) != 1) {
        out.resize(start);
        return crypto_error("EncryptFinal");
    }
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                            out.data() + ct + src.size()) != 1) {
        out.resize(start);
        return crypto_error("GET_TAG");
    }
    return base::ok_status();
}

base::Result<base::Bytes> aes_gcm_open(base::ByteView key, base::ByteView msg, base::ByteView aad) {
    const EVP_CIPHER* cipher = cipher_for(key.size());
    if (!cipher)
        return base::make_error("bad_key", "key size must be 16, 24 or 32 bytes");
    if (msg.empty())
        return base::make_error("truncated", "cannot decrypt an empty payload");
    int version = msg[0];
    if (version > 1)
        return base::make_error("malformed", "unsupported encryption version " + std::to_string(version));
    if (msg.size() < encrypted_length(version, 0))
        return base::make_error("truncated", "payload of " + std::to_string(msg.size()) +
                                                 " bytes is too small to decrypt");
    const std::uint8_t* nonce = msg.data() + 1;
    base::ByteView body = msg.subspan(1 + kNonceSize, msg.size() - 1 - kNonceSize - kTagSize);
    base::ByteView tag = msg.subspan(msg.size() - kTagSize);

    Ctx ctx(EVP_CIPHER_CTX_new());
    if (!ctx)
        return crypto_error("EVP_CIPHER_CTX_new");
    if (EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.data(), nonce) != 1)
        return crypto_error("DecryptInit");
    int len = 0;
    if (!aad.empty() &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1)
        return crypto_error("DecryptUpdate(aad)");
    base::Bytes plain(body.size());
    if (!body.empty() &&
        EVP_DecryptUpdate(ctx.get(), plain.data(), &len, body.data(), static_cast<int>(body.size())) != 1)
        return base::make_error("decrypt_failed", "message authentication failed");
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                            const_cast<std::uint8_t*>(tag.data())) != 1)
        return crypto_error("SET_TAG");
    int fin = 0;
    std::uint8_t dummy[16];
    if (EVP_DecryptFinal_ex(ctx.get(), dummy, &fin) != 1)
        return base::make_error("decrypt_failed", "message authentication failed");
    if (version == 0) {
        // memberlist strips the last byte's count without validating; we insist it is sane.
        if (plain.empty())
            return base::make_error("malformed", "empty PKCS7 block");
        std::size_t pad = plain.back();
        if (pad == 0 || pad > kBlockSize || pad > plain.size())
            return base::make_error("malformed", "bad PKCS7 padding");
        plain.resize(plain.size() - pad);
    }
    return plain;
}

} // namespace clusterd::wire::detail
