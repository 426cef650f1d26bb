// Fuzzes open_packet (decrypt -> CRC -> decompress -> compound split) with and without keys, then
// decodes every message it yields. The first input byte picks the keyring and the label.
#include <cstddef>
#include <cstdint>

#include "clusterd/wire/envelope.hpp"
#include "clusterd/wire/memberlist.hpp"

using namespace clusterd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    static const wire::Keyring ring = [] {
        auto r = wire::Keyring::from_base64(
            {"AAECAwQFBgcICQoLDA0ODw==", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="});
        return r.ok() ? *r : wire::Keyring{};
    }();
    const wire::Keyring* keys = (data[0] & 1) ? &ring : nullptr;
    base::ByteView in(data + 1, size - 1);
    // Bit 2 expects a cluster label, so the label header parsing and checks run too.
    auto msgs = wire::open_packet(in, keys, (data[0] & 2) != 0, (data[0] & 4) ? "lab" : "");
    if (!msgs.ok())
        return 0;
    for (const auto& m : *msgs) {
        auto d = wire::decode(m);
        if (d.ok()) {
            auto again = wire::decode(wire::encode(*d));
            if (!again.ok() || !(*again == *d))
                __builtin_trap();
        }
    }
    return 0;
}
