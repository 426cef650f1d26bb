// Fuzzes the mDNS message codec and the -discover state machine: arbitrary bytes are decoded;
// a message that decodes and encodes again must decode to the same encoding (a fixed point after
// one round); every datagram is also fed to a Discovery machine, whose outputs must be
// well-formed messages. Nothing may crash, hang, or allocate past the fuzzer's cap.
#include <cstddef>
#include <cstdint>
#include <span>

#include "clusterd/mdns/discovery.hpp"
#include "clusterd/mdns/message.hpp"

using namespace clusterd;
using namespace clusterd::mdns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    if (auto m = decode(bytes)) {
        if (auto once = encode(*m)) {
            auto back = decode(*once);
            if (!back)
                __builtin_trap();
            auto twice = encode(*back);
            if (!twice || *twice != *once)
                __builtin_trap();
        }
    }
    static Discovery* machine = [] {
        Options o;
        o.cluster = "lab";
        o.instance = "fuzz";
        o.host = "box";
        o.addr = {10, 0, 0, 1};
        auto* d = new Discovery(o);
        d->start(base::Instant::zero());
        return d;
    }();
    machine->on_packet(bytes, Endpoint{{10, 0, 0, 2}, static_cast<std::uint16_t>(size % 2 ? 5353 : 40000)},
                       base::Instant::zero());
    machine->tick(base::Instant::zero() + std::chrono::seconds(1));
    while (auto d = machine->poll_transmit())
        if (!decode(d->data))
            __builtin_trap();
    while (machine->poll_join()) {
    }
    while (machine->poll_log()) {
    }
    return 0;
}
