// libFuzzer target: arbitrary bytes into an rpc::Session (after a valid handshake, and raw), with a
// FakeAgent that completes synchronously. Must never crash, hang or allocate from length claims.
#include <cstddef>
#include <cstdint>

#include "clusterd/rpc/session.hpp"
#include "unit/rpc/fake_agent.hpp"
#include "unit/rpc/wire_helpers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clusterd;
    rpc::testing::FakeAgent agent;
    agent.member_list.resize(2);
    rpc::SessionConfig cfg;
    cfg.max_request_bytes = 64 * 1024;
    const bool pre_handshake = size > 0 && (data[0] & 1) != 0;
    {
        rpc::Session s(agent, cfg);
        if (!pre_handshake)
            s.feed(rpc::testing::handshake(1));
        // Feed in two pieces to exercise resumption.
        const std::size_t half = size / 2;
        s.feed(base::ByteView(data, half));
        s.feed(base::ByteView(data + half, size - half));
        agent.emit(rpc::UserEvent{1, "e", {}, false});
        agent.log("[INFO] x");
        (void)s.take_output();
    }
    return 0;
}
