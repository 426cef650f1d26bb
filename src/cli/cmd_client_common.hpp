// Shared plumbing of the RPC client subcommands (members, join, query, ...): the -rpc-addr /
// -rpc-auth / -c flags and how the target agent is chosen, connecting like Serf's CLI, Go-style
// output helpers (columnize, json.MarshalIndent, durations, %q quoting).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/rpc/client.hpp"

namespace clusterd::cli::client {

struct RpcFlags {
    std::string rpc_addr;
    std::string rpc_auth;
    std::string config;
};

/// Adds --rpc-addr, --rpc-auth and -c/--config to a subcommand.
void add_rpc_flags(CLI::App& app, RpcFlags& flags);

struct Target {
    std::string addr;
    std::string auth;
    std::string from; ///< "flag", "env", the config file path, or "default"
};

/// Flag, else $SERF_RPC_ADDR/$SERF_RPC_AUTH, else `cluster_listen_rpc` of the YAML config (-c, then
/// $CLUSTERD_CONFIG, then /etc/clusterd/clusterd.yml; announced on stderr), else 127.0.0.1:7373.
base::Result<Target> resolve_target(const CLI::App& app, const RpcFlags& flags);

/// Resolves and connects; on failure prints Serf's "Error connecting to Serf agent: ..." and
/// returns nullptr.
std::unique_ptr<rpc::Client> connect(const CLI::App& app, const RpcFlags& flags);

/// Prints a line to stdout / stderr.
void out(const std::string& line);
void err(const std::string& line);

/// github.com/ryanuber/columnize SimpleFormat: '|'-separated cells, trimmed, padded, glue "  ".
std::string columnize(const std::vector<std::string>& lines);

/// "k=v" list to a map; error "Invalid tag: 'x'" as Serf.
base::Result<std::map<std::string, std::string>> unmarshal_tags(const std::vector<std::string>& pairs);

/// Go's net.TCPAddr.String() for an IP given as 4 or 16 bytes.
std::string host_port(const base::Bytes& ip, std::uint16_t port);

/// Go's time.ParseDuration ("1h2m3.5s", "300ms", "0").
base::Result<base::Duration> parse_go_duration(const std::string& text);

/// Go's strconv.Quote / %q.
std::string go_quote(const std::string& s);

/// A JSON value printed the way Go's json.MarshalIndent(v, "", "  ") prints it.
struct Json {
    enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
    bool b = false;
    std::string text;              ///< number text or string value
    std::vector<std::string> keys; ///< object field names in output order
    std::vector<Json> items;       ///< array elements, or object field values (parallel to keys)

    static Json null() { return Json{}; }
    static Json boolean(bool v);
    static Json number(long long v);
    static Json str(const std::string& v);
    static Json array(std::vector<Json> v);
    static Json object(std::vector<std::pair<std::string, Json>> v);
    /// A Go map[string]string: keys sorted; a null map (`present` false) prints null.
    static Json string_map(const std::map<std::string, std::string>& m);
    std::string dump() const;
};

/// Prints Go's flag-package style usage text and returns 1.
int usage_error(const std::vector<std::string>& messages, const std::string& help);

} // namespace clusterd::cli::client
