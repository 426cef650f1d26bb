// Session handlers of the key family: install-key, use-key, remove-key, list-keys.
#include "clusterd/rpc/session.hpp"

namespace clusterd::rpc {

std::function<void(const KeyResponse&)> Session::key_reply(std::uint64_t seq, bool with_keys) {
    busy_ = true;
    std::weak_ptr<int> w = life_;
    return [w, this, seq, with_keys](const KeyResponse& r) {
        if (w.expired())
            return;
        base::Bytes b;
        encode(b, r, with_keys);
        reply(seq, r.error, b);
        finish_async();
    };
}

bool Session::on_install_key(std::uint64_t seq, const KeyRequest& req) {
    agent_.install_key(req.key, key_reply(seq, false));
    return !closing_;
}

bool Session::on_use_key(std::uint64_t seq, const KeyRequest& req) {
    agent_.use_key(req.key, key_reply(seq, false));
    return !closing_;
}

bool Session::on_remove_key(std::uint64_t seq, const KeyRequest& req) {
    agent_.remove_key(req.key, key_reply(seq, false));
    return !closing_;
}

bool Session::on_list_keys(std::uint64_t seq, const NoBody&) {
    agent_.list_keys(key_reply(seq, true));
    return !closing_;
}

} // namespace clusterd::rpc
