// clusterd::store::etcd: the pure half of the etcd adapter. The etcd URL, HTTP/1.1 requests to
// etcd v3's JSON gateway, an incremental response decoder (libhttp-parser underneath, bounded
// in size), the JSON answers of range / txn / lease calls, and the node row as a JSON value.
// Deterministic functions of bytes and text: no sockets, no clocks (the adapter that does the
// IO is src/store/etcd_store.cpp). Every decoder here is fuzzed by tests/fuzz/store_etcd_fuzz.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/discovery/registry.hpp"

namespace clusterd::store::etcd {

/// Largest HTTP response (status line, headers and body) the adapter reads; more is an error.
inline constexpr std::size_t kMaxResponseBytes = 4u << 20;
/// Layout version written to `<prefix>/schema_version` (the same number as the SQL adapters').
inline constexpr int kSchemaVersion = 1;

struct Endpoint {
    std::string host; ///< a name, an IPv4 literal or an IPv6 literal (without brackets)
    std::uint16_t port = 0;
    /// "host:port" ("[v6]:port"), as used in the Host header and in errors.
    std::string shown() const;
};

struct EtcdUrl {
    std::vector<Endpoint> endpoints; ///< in the order given; at least one
    std::string prefix;              ///< "/name[/more]", no trailing slash
    std::string nodes_prefix() const { return prefix + "/nodes/"; }
    std::string node_key(const std::string& name) const { return nodes_prefix() + name; }
    std::string schema_key() const { return prefix + "/schema_version"; }
};

/// Parses `etcd://host:port[,host:port…]/prefix`. Credentials (`user:pass@`) are refused with an
/// error that does not repeat them.
base::Result<EtcdUrl> parse_url(const std::string& url);

/// An HTTP/1.1 POST of a JSON body (keep-alive).
std::string http_post(const Endpoint& to, std::string_view path, std::string_view json_body);

struct HttpResponse {
    int status = 0;
    std::string body;        ///< de-chunked
    bool keep_alive = false; ///< the connection may carry the next request
};

/// Incremental decoder of one HTTP/1.1 response: feed bytes as they arrive, then finish() at
/// EOF. Content-Length, chunked and read-until-close bodies. More than `max_bytes` in total
/// (or a declared Content-Length above it) is an error, so memory stays bounded.
class ResponseParser {
  public:
    enum class State { NeedMore, Done, Failed };
    explicit ResponseParser(std::size_t max_bytes = kMaxResponseBytes);
    ~ResponseParser();
    ResponseParser(const ResponseParser&) = delete;
    ResponseParser& operator=(const ResponseParser&) = delete;

    State feed(const char* data, std::size_t n);
    /// The peer closed the connection.
    State finish();
    State state() const;
    /// True once any byte arrived (a reused connection that closes before that was idle).
    bool started() const;
    /// Done: the response. Failed: the reason, in error().
    const HttpResponse& response() const;
    const std::string& error() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The whole byte stream of one response up to EOF, decoded.
base::Result<HttpResponse> decode_response(std::string_view bytes, std::size_t max_bytes = kMaxResponseBytes);

/// A key-value as the gateway reports it (key and value decoded from base64).
struct Kv {
    std::string key;
    std::string value;
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
    std::int64_t lease = 0;
};

/// A non-2xx answer as one error: "etcd answered 404: etcdserver: requested lease not found".
base::Error http_error(const HttpResponse& r);
/// True if the answer says the lease named in the request does not exist (any more).
bool lease_not_found(const HttpResponse& r);

/// `/v3/kv/range`: the kvs (none when the key is absent).
base::Result<std::vector<Kv>> decode_range(std::string_view json);
/// `/v3/kv/txn`: whether the compares held, and the kvs of every response_range in it.
struct TxnAnswer {
    bool succeeded = false;
    std::vector<Kv> kvs;
};
base::Result<TxnAnswer> decode_txn(std::string_view json);
/// `/v3/lease/grant`: the lease ID.
base::Result<std::int64_t> decode_lease_grant(std::string_view json);
/// `/v3/lease/keepalive`: the remaining TTL in seconds; 0 = the lease no longer exists.
base::Result<std::int64_t> decode_keepalive(std::string_view json);

// Request bodies (JSON; keys and values base64, int64 as strings).
std::string range_request(std::string_view key, std::string_view range_end = {});
/// The end of a prefix range: the prefix with its last byte incremented.
std::string prefix_end(std::string_view prefix);
/// Put `key` = `value` (with `lease` if not 0) when the key's mod_revision is still `mod_revision`
/// (0 = the key must not exist); the answer to a failed compare holds the key's current kv.
std::string put_if_request(std::string_view key, std::string_view value, std::int64_t lease,
                           std::int64_t mod_revision);
/// Delete `key` when its mod_revision is still `mod_revision`.
std::string delete_if_request(std::string_view key, std::int64_t mod_revision);
std::string delete_request(std::string_view key);
std::string lease_grant_request(std::int64_t ttl_s);
std::string lease_id_request(std::int64_t id); ///< keepalive and revoke

/// The node row as the value of `<prefix>/nodes/<name>`: a JSON object with the StoredRow
/// columns (name, address as strings; protocol_*, *_ms as integers).
std::string encode_row(const discovery::Row& row);
/// A value as a StoredRow, never failing: the name is the key's (`name`), each column the
/// value's field as text ("" when absent, JSON text when not a string or an integer), so a value
/// that is not a row reaches the registry as a row parse_row() rejects (one warning).
discovery::StoredRow decode_row(const std::string& name, std::string_view value);
/// Every kv under `nodes_prefix` as a StoredRow (keys outside it are ignored).
std::vector<discovery::StoredRow> rows_of(const std::string& nodes_prefix, const std::vector<Kv>& kvs);

} // namespace clusterd::store::etcd
