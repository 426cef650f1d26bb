// Keyring with memberlist's semantics (keyring.go): primary first, idempotent install,
// the primary cannot be removed.
#include <algorithm>

#include "clusterd/wire/envelope.hpp"

namespace clusterd::wire {

namespace {
bool same(base::ByteView a, base::ByteView b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
}
} // namespace

base::Status Keyring::validate_key(base::ByteView key) {
    if (key.size() != 16 && key.size() != 24 && key.size() != 32)
        return base::make_error("bad_key", "key size must be 16, 24 or 32 bytes");
    return base::ok_status();
}

base::Result<base::Bytes> Keyring::decode_key(const std::string& b64) {
    base::Bytes key;
    if (!base::base64_decode(b64, key))
        return base::make_error("bad_key", "key is not valid base64");
    if (auto st = validate_key(key); !st)
        return st.error();
    return key;
}

std::string Keyring::encode_key(base::ByteView key) {
    return base::base64_encode(key);
}

base::Result<Keyring> Keyring::from_keys(const std::vector<base::Bytes>& keys) {
    Keyring ring;
    for (const auto& k : keys) {
        if (auto st = ring.install(k); !st)
            return st.error();
    }
    return ring;
}

base::Result<Keyring> Keyring::from_base64(const std::vector<std::string>& keys) {
    std::vector<base::Bytes> raw;
    for (const auto& s : keys) {
        auto k = decode_key(s);
        if (!k)
            return k.error();
        raw.push_back(std::move(*k));
    }
    return from_keys(raw);
}

base::Status Keyring::install(base::ByteView key) {
    if (auto st = validate_key(key); !st)
        return st;
    for (const auto& k : keys_) {
        if (same(k, key))
            return base::ok_status();
    }
    keys_.emplace_back(key.begin(), key.end());
    return base::ok_status();
}

base::Status Keyring::use(base::ByteView key) {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
        if (same(keys_[i], key)) {
            std::rotate(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(i),
                        keys_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
            return base::ok_status();
        }
    }
    return base::make_error("no_key", "Requested key is not in the keyring");
}

base::Status Keyring::remove(base::ByteView key) {
    if (!keys_.empty() && same(keys_.front(), key))
        return base::make_error("primary_key", "Removing the primary key is not allowed");
    keys_.erase(
        std::remove_if(keys_.begin(), keys_.end(), [&](const base::Bytes& k) { return same(k, key); }),
        keys_.end());
    return base::ok_status();
}

std::vector<std::string> Keyring::list_base64() const {
    std::vector<std::string> out;
    for (const auto& k : keys_)
        out.push_back(base::base64_encode(k));
    return out;
}

} // namespace clusterd::wire
