// The two IPC bodies whose wire form is not a plain struct (see protocol.hpp); every other header,
// body and record is encoded and decoded from its field list.
#include "clusterd/rpc/protocol.hpp"

namespace clusterd::rpc {

void encode(base::Bytes& out, const QueryRequest& v) {
    encode(out, v.params);
}

base::Status decode(base::ByteView in, QueryRequest& out) {
    return decode(in, out.params);
}

void encode(base::Bytes& out, const KeyResponse& v, bool with_keys) {
    KeyResponseBody b{with_keys ? std::optional(v.keys) : std::nullopt, v.messages, v.num_err, v.num_nodes,
                      v.num_resp};
    encode(out, b);
}

base::Status decode(base::ByteView in, KeyResponse& out) {
    KeyResponseBody b;
    if (auto st = decode(in, b); !st)
        return st;
    out.keys = b.keys.value_or(std::map<std::string, int>{});
    out.messages = std::move(b.messages);
    out.num_err = b.num_err;
    out.num_nodes = b.num_nodes;
    out.num_resp = b.num_resp;
    return base::ok_status();
}

} // namespace clusterd::rpc
