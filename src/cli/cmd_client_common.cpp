// Shared plumbing of the RPC client subcommands (see cmd_client_common.hpp).
#include "cmd_client_common.hpp"

#include <arpa/inet.h>

#include <cstdlib>
#include <iostream>

#include "clusterd/config/config.hpp"

namespace clusterd::cli::client {

void add_rpc_flags(CLI::App& app, RpcFlags& flags) {
    app.add_option("--rpc-addr", flags.rpc_addr, "RPC address of the agent (default 127.0.0.1:7373)");
    app.add_option("--rpc-auth", flags.rpc_auth, "RPC auth token of the agent");
    app.add_option("-c,--config", flags.config, "clusterd YAML config to read cluster_listen_rpc from");
}

base::Result<Target> resolve_target(const CLI::App& app, const RpcFlags& flags) {
    Target t;
    const char* env_auth = std::getenv("SERF_RPC_AUTH");
    t.auth =
        app.get_option("--rpc-auth")->count() > 0 ? flags.rpc_auth : (env_auth != nullptr ? env_auth : "");
    if (app.get_option("--rpc-addr")->count() > 0) {
        t.addr = flags.rpc_addr;
        t.from = "flag";
        return t;
    }
    if (const char* env = std::getenv("SERF_RPC_ADDR"); env != nullptr && *env != '\0') {
        t.addr = env;
        t.from = "env";
        return t;
    }
    config::FlagValues fv;
    if (!flags.config.empty())
        fv.values["config"] = {flags.config};
    const std::string path = config::pick_config_path(fv, std::getenv("CLUSTERD_CONFIG"));
    if (path.empty()) {
        t.addr = "127.0.0.1:7373";
        t.from = "default";
        return t;
    }
    auto cfg = config::load_config(path, {});
    if (!cfg.ok())
        return cfg.error();
    t.addr = cfg->rpc_addr;
    t.from = path;
    std::cerr << "clusterd: using RPC address " << t.addr << " (cluster_listen_rpc) from " << path << "\n";
    return t;
}

std::unique_ptr<rpc::Client> connect(const CLI::App& app, const RpcFlags& flags) {
    auto t = resolve_target(app, flags);
    if (!t.ok()) {
        err("Error reading config: " + t.error().message);
        return nullptr;
    }
    auto c = rpc::Client::connect(t->addr, t->auth);
    if (!c.ok()) {
        err("Error connecting to Serf agent: " + c.error().message);
        return nullptr;
    }
    return std::move(*c);
}

void out(const std::string& line) {
    std::cout << line << "\n" << std::flush;
}
void err(const std::string& line) {
    std::cerr << line << "\n" << std::flush;
}

namespace {
std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n\v\f");
    if (b == std::string::npos)
        return "";
    const auto e = s.find_last_not_of(" \t\r\n\v\f");
    return s.substr(b, e - b + 1);
}
std::size_t rune_len(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80)
            ++n;
    return n;
}
std::vector<std::string> cells(const std::string& line) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        const auto bar = line.find('|', start);
        out.push_back(trim(line.substr(start, bar == std::string::npos ? std::string::npos : bar - start)));
        if (bar == std::string::npos)
            break;
        start = bar + 1;
    }
    return out;
}
} // namespace

std::string columnize(const std::vector<std::string>& lines) {
    std::vector<std::size_t> widths;
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : lines) {
        rows.push_back(cells(l));
        for (std::size_t i = 0; i < rows.back().size(); ++i) {
            const auto w = rune_len(rows.back()[i]);
            if (widths.size() <= i) {
                widths.push_back(w);
            } else if (widths[i] < w) {
                widths[i] = w;
            }
        }
    }
    std::string result;
    for (const auto& r : rows) {
        for (std::size_t i = 0; i < r.size(); ++i) {
            result += r[i];
            if (i + 1 < r.size())
                result += std::string(widths[i] - rune_len(r[i]), ' ') + "  ";
        }
        result += "\n";
    }
    if (!result.empty())
        result.pop_back();
    return result;
}

base::Result<std::map<std::string, std::string>> unmarshal_tags(const std::vector<std::string>& pairs) {
    std::map<std::string, std::string> out;
    for (const auto& p : pairs) {
        const auto eq = p.find('=');
        if (eq == std::string::npos || eq == 0)
            return base::make_error("bad_tag", "Invalid tag: '" + p + "'");
        out[p.substr(0, eq)] = p.substr(eq + 1);
    }
    return out;
}

std::string host_port(const base::Bytes& ip, std::uint16_t port) {
    char buf[INET6_ADDRSTRLEN] = {0};
    std::string host;
    if (ip.size() == 4) {
        ::inet_ntop(AF_INET, ip.data(), buf, sizeof buf);
        host = buf;
    } else if (ip.size() == 16) {
        // Go prints an IPv4-mapped IPv6 address as plain IPv4.
        static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::equal(ip.begin(), ip.begin() + 12, mapped)) {
            ::inet_ntop(AF_INET, ip.data() + 12, buf, sizeof buf);
            host = buf;
        } else {
            ::inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
            host = std::string("[") + buf + "]";
        }
    }
    return host + ":" + std::to_string(port);
}

base::Result<base::Duration> parse_go_duration(const std::string& text) {
    const auto bad = [&] {
        return base::make_error("bad_duration", "time: invalid duration " + go_quote(text));
    };
    std::string s = text;
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s = s.substr(1);
    }
    if (s == "0")
        return base::Duration(0);
    if (s.empty())
        return bad();
    long double total = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t start = i;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'))
            ++i;
        if (i == start)
            return bad();
        const long double num = std::strtold(s.substr(start, i - start).c_str(), nullptr);
        const std::size_t us = i;
        while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.')
            ++i;
        const std::string unit = s.substr(us, i - us);
        long double scale = 0;
        if (unit == "ns")
            scale = 1;
        else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
            scale = 1e3L;
        else if (unit == "ms")
            scale = 1e6L;
        else if (unit == "s")
            scale = 1e9L;
        else if (unit == "m")
            scale = 60e9L;
        else if (unit == "h")
            scale = 3600e9L;
        else
            return unit.empty()
                       ? base::make_error("bad_duration", "time: missing unit in duration " + go_quote(text))
                       : base::make_error("bad_duration", "time: unknown unit " + go_quote(unit) +
                                                              " in duration " + go_quote(text));
        total += num * scale;
    }
    const auto ns = static_cast<long long>(total);
    return base::Duration(neg ? -ns : ns);
}

std::string go_quote(const std::string& s) {
    std::string o = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"':
            o += "\\\"";
            break;
        case '\\':
            o += "\\\\";
            break;
        case '\n':
            o += "\\n";
            break;
        case '\t':
            o += "\\t";
            break;
        case '\r':
            o += "\\r";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char b[8];
                std::snprintf(b, sizeof b, "\\x%02x", c);
                o += b;
            } else {
                o.push_back(static_cast<char>(c));
            }
        }
    }
    return o + "\"";
}

Json Json::boolean(bool v) {
    Json j;
    j.kind = Kind::Bool;
    j.b = v;
    return j;
}
Json Json::number(long long v) {
    Json j;
    j.kind = Kind::Number;
    j.text = std::to_string(v);
    return j;
}
Json Json::str(const std::string& v) {
    Json j;
    j.kind = Kind::String;
    j.text = v;
    return j;
}
Json Json::array(std::vector<Json> v) {
    Json j;
    j.kind = Kind::Array;
    j.items = std::move(v);
    return j;
}
Json Json::object(std::vector<std::pair<std::string, Json>> v) {
    Json j;
    j.kind = Kind::Object;
    for (auto& [k, val] : v) {
        j.keys.push_back(k);
        j.items.push_back(std::move(val));
    }
    return j;
}
Json Json::string_map(const std::map<std::string, std::string>& m) {
    std::vector<std::pair<std::string, Json>> f;
    for (const auto& [k, v] : m)
        f.emplace_back(k, str(v));
    return object(std::move(f));
}

namespace {
// Go's encoding/json string escaping (HTML-safe, as json.Marshal does).
std::string json_quote(const std::string& s) {
    std::string o = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        char b[8];
        switch (c) {
        case '"':
            o += "\\\"";
            break;
        case '\\':
            o += "\\\\";
            break;
        case '\n':
            o += "\\n";
            break;
        case '\r':
            o += "\\r";
            break;
        case '\t':
            o += "\\t";
            break;
        case '<':
        case '>':
        case '&':
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
            break;
        default:
            if (c < 0x20) {
                std::snprintf(b, sizeof b, "\\u%04x", c);
                o += b;
            } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                       (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                        static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
                o += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
                i += 2;
            } else {
                o.push_back(static_cast<char>(c));
            }
        }
    }
    return o + "\"";
}

void dump_into(const Json& j, std::string& o, int depth) {
    const std::string pad(static_cast<std::size_t>(depth + 1) * 2, ' ');
    const std::string end_pad(static_cast<std::size_t>(depth) * 2, ' ');
    switch (j.kind) {
    case Json::Kind::Null:
        o += "null";
        return;
    case Json::Kind::Bool:
        o += j.b ? "true" : "false";
        return;
    case Json::Kind::Number:
        o += j.text;
        return;
    case Json::Kind::String:
        o += json_quote(j.text);
        return;
    case Json::Kind::Array:
        if (j.items.empty()) {
            o += "[]";
            return;
        }
        o += "[\n";
        for (std::size_t i = 0; i < j.items.size(); ++i) {
            o += pad;
            dump_into(j.items[i], o, depth + 1);
            o += i + 1 < j.items.size() ? ",\n" : "\n";
        }
        o += end_pad + "]";
        return;
    case Json::Kind::Object:
        if (j.keys.empty()) {
            o += "{}";
            return;
        }
        o += "{\n";
        for (std::size_t i = 0; i < j.keys.size(); ++i) {
            o += pad + json_quote(j.keys[i]) + ": ";
            dump_into(j.items[i], o, depth + 1);
            o += i + 1 < j.keys.size() ? ",\n" : "\n";
        }
        o += end_pad + "}";
        return;
    }
}
} // namespace

std::string Json::dump() const {
    std::string o;
    dump_into(*this, o, 0);
    return o;
}

int usage_error(const std::vector<std::string>& messages, const std::string& help) {
    for (const auto& m : messages)
        err(m);
    err("");
    err(help);
    return 1;
}

} // namespace clusterd::cli::client
