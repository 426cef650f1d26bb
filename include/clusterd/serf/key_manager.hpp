// Key manager logic over a keyring port: the receiving side of _serf_install-key, _serf_use-key,
// _serf_remove-key, _serf_list-keys (what each node answers) and the origin side (aggregating
// per-node answers into Serf's KeyResponse with its error strings). No file IO: persisting the
// keyring file is the port's job.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/wire/serf_messages.hpp"

namespace clusterd::serf {

/// What the node's keyring offers (the agent adapts wire::Keyring + the keyring file).
class KeyringPort {
  public:
    virtual ~KeyringPort() = default;
    /// Encryption enabled (a keyring exists).
    virtual bool enabled() const = 0;
    virtual base::Status install(const base::Bytes& key) = 0;
    virtual base::Status use(const base::Bytes& key) = 0;
    virtual base::Status remove(const base::Bytes& key) = 0;
    /// All keys, primary first.
    virtual std::vector<base::Bytes> keys() const = 0;
    virtual base::Bytes primary() const = 0;
    /// Writes the keyring file if one is configured (ok when none is).
    virtual base::Status persist() = 0;
};

enum class KeyOp : std::uint8_t { Install, Use, Remove, List };
/// "install-key", "use-key", "remove-key", "list-keys" (the query is "_serf_" + this).
const char* key_op_name(KeyOp op);
inline constexpr const char* kInternalQueryPrefix = "_serf_";
inline constexpr std::size_t kMinEncodedKeyLength = 25;

/// A node's answer to a key query. `key` is the decoded request key (nullopt when the request
/// did not decode; ignored for List).
wire::SerfKeyResponse handle_key_query(KeyOp op, const std::optional<base::Bytes>& key, KeyringPort& keyring);

/// Serf's list-keys truncation: starting from response_size_limit/25 keys, drop keys until
/// `fits(resp)` is true, noting "truncated key list response, showing first N of M keys".
/// nullopt when nothing fits.
std::optional<wire::SerfKeyResponse>
fit_key_list(wire::SerfKeyResponse resp, std::size_t response_size_limit,
             const std::function<bool(const wire::SerfKeyResponse&)>& fits);

/// The origin's aggregate (serf.KeyResponse).
struct KeyResponse {
    std::map<std::string, std::string> messages; ///< node -> message
    std::size_t num_nodes = 0;
    std::size_t num_resp = 0;
    std::size_t num_err = 0;
    std::map<std::string, int> keys;         ///< base64 key -> nodes holding it
    std::map<std::string, int> primary_keys; ///< base64 key -> nodes using it as primary
};

class KeyResponseCollector {
  public:
    explicit KeyResponseCollector(std::size_t num_nodes) { resp_.num_nodes = num_nodes; }
    /// One node's raw response payload ([8][msgpack] expected; the caller decodes it and passes
    /// nullopt when the type byte or body was wrong, with `raw_repr` for the message).
    void add(const std::string& from, const std::optional<wire::SerfKeyResponse>& decoded,
             const std::string& error_message);
    bool complete() const { return resp_.num_resp >= resp_.num_nodes; }
    const KeyResponse& response() const { return resp_; }
    /// Serf's verdict: "N/M nodes reported failure" or "N/M nodes reported success" errors.
    base::Status verdict() const;

  private:
    KeyResponse resp_;
};

} // namespace clusterd::serf
