// The daemon's NonceSource: OpenSSL's CSPRNG. (Kept out of the pure cores; only the daemon
// calls system_nonce_source().)
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

#include "clusterd/wire/envelope.hpp"

namespace clusterd::wire {

NonceSource system_nonce_source() {
    return [](std::span<std::uint8_t> out) {
        if (out.empty())
            return;
        if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
            std::fputs("clusterd: RAND_bytes failed; refusing to reuse a GCM nonce\n", stderr);
            std::abort();
        }
    };
}

} // namespace clusterd::wire
