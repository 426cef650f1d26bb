// Key-query handling and aggregation (see key_manager.hpp).
#include "clusterd/serf/key_manager.hpp"

namespace clusterd::serf {

const char* key_op_name(KeyOp op) {
    switch (op) {
    case KeyOp::Install:
        return "install-key";
    case KeyOp::Use:
        return "use-key";
    case KeyOp::Remove:
        return "remove-key";
    case KeyOp::List:
        return "list-keys";
    }
    return "unknown";
}

wire::SerfKeyResponse handle_key_query(KeyOp op, const std::optional<base::Bytes>& key,
                                       KeyringPort& keyring) {
    wire::SerfKeyResponse resp;
    if (op == KeyOp::List) {
        if (!keyring.enabled()) {
            resp.message = "Keyring is empty (encryption not enabled)";
            return resp;
        }
        for (const auto& k : keyring.keys())
            resp.keys.push_back(base::base64_encode(k));
        resp.primary_key = base::base64_encode(keyring.primary());
        resp.result = true;
        return resp;
    }
    if (!key)
        return resp; // undecodable request: Result false, no message (as Serf)
    if (!keyring.enabled()) {
        resp.message = "No keyring to modify (encryption not enabled)";
        return resp;
    }
    base::Status st = op == KeyOp::Install ? keyring.install(*key)
                      : op == KeyOp::Use   ? keyring.use(*key)
                                           : keyring.remove(*key);
    if (!st) {
        resp.message = st.error().message;
        return resp;
    }
    auto persisted = keyring.persist();
    if (!persisted) {
        resp.message = persisted.error().message;
        return resp;
    }
    resp.result = true;
    return resp;
}

std::optional<wire::SerfKeyResponse>
fit_key_list(wire::SerfKeyResponse resp, std::size_t response_size_limit,
             const std::function<bool(const wire::SerfKeyResponse&)>& fits) {
    const std::size_t actual = resp.keys.size();
    std::size_t max_keys = response_size_limit / kMinEncodedKeyLength;
    for (std::size_t i = max_keys + 1; i-- > 0;) {
        if (fits(resp))
            return resp;
        if (resp.keys.size() > i)
            resp.keys.resize(i);
        resp.message = "truncated key list response, showing first " + std::to_string(i) + " of " +
                       std::to_string(actual) + " keys";
    }
    return std::nullopt;
}

void KeyResponseCollector::add(const std::string& from, const std::optional<wire::SerfKeyResponse>& decoded,
                               const std::string& error_message) {
    ++resp_.num_resp;
    if (!decoded) {
        resp_.messages[from] = error_message;
        ++resp_.num_err;
        return;
    }
    if (!decoded->result) {
        resp_.messages[from] = decoded->message;
        ++resp_.num_err;
    }
    if (decoded->result && !decoded->message.empty())
        resp_.messages[from] = decoded->message;
    for (const auto& k : decoded->keys)
        ++resp_.keys[k];
    ++resp_.primary_keys[decoded->primary_key];
}

base::Status KeyResponseCollector::verdict() const {
    if (resp_.num_err != 0)
        return base::make_error("key_failure", std::to_string(resp_.num_err) + "/" +
                                                   std::to_string(resp_.num_nodes) +
                                                   " nodes reported failure");
    if (resp_.num_resp != resp_.num_nodes)
        return base::make_error("key_incomplete", std::to_string(resp_.num_resp) + "/" +
                                                      std::to_string(resp_.num_nodes) +
                                                      " nodes reported success");
    return base::ok_status();
}

} // namespace clusterd::serf
