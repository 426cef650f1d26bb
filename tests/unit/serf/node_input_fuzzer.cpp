// libFuzzer: hostile bytes into a serf::Node (user messages, push-pull state, ping payloads) and
// into the snapshot replay must never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "clusterd/serf/node.hpp"

using namespace clusterd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static serf::Node* node = [] {
        serf::Config c;
        c.memberlist = swim::Config::lan();
        c.memberlist.name = "fuzz";
        c.memberlist.advertise_addr = {127, 0, 0, 1};
        c.snapshot = true;
        return new serf::Node(c, 1, base::Instant{});
    }();
    base::ByteView in(data, size);
    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0:
        node->delegate().notify_msg(in.subspan(1));
        break;
    case 1:
        node->delegate().merge_remote_state(in.subspan(1), (data[0] & 0x10) != 0);
        break;
    case 2: {
        swim::Node peer;
        peer.name = "p";
        peer.addr = swim::Address{{127, 0, 0, 2}, 1};
        node->delegate().notify_ping_complete(peer, std::chrono::milliseconds(5), in.subspan(1));
        break;
    }
    default:
        (void)serf::SnapshotState::replay(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1),
                                          (data[0] & 0x10) != 0);
    }
    while (node->poll_event()) {
    }
    while (node->poll_log()) {
    }
    (void)node->drain_snapshot();
    while (node->poll_transmit()) {
    }
    return 0;
}
