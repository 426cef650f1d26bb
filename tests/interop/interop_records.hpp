// Shared helpers for the Serf-layer and agent-service interop tests: a recording event handler
// (one file per invocation: the SERF_* environment, then stdin) usable by `serf agent` and
// `clusterd agent` alike, and readers for what it recorded.
#pragma once

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/cluster.hpp"

namespace clusterd::testing {

struct Record {
    std::map<std::string, std::string> env; ///< SERF_* variables
    std::string in;                         ///< stdin
    std::string event() const {
        auto it = env.find("SERF_EVENT");
        return it == env.end() ? "" : it->second;
    }
    std::string get(const std::string& k) const {
        auto it = env.find(k);
        return it == env.end() ? "" : it->second;
    }
};

/// Writes `record.sh` into `dir`: each invocation writes $dir/rec-$SERF_SELF_NAME/ev.XXXXXX (env
/// sorted, a "--stdin--" line, stdin); query events answer "response from <self>:<stdin>".
inline std::string write_recorder(const std::string& dir) {
    return write_script(
        dir, "record.sh",
        "d=\"" + dir +
            "/rec-$SERF_SELF_NAME\"\n"
            "mkdir -p \"$d\"\n"
            "t=$(mktemp \"$d/tmp.XXXXXX\")\n"
            "cat > \"$t.in\"\n"
            "{ env | grep '^SERF_' | LC_ALL=C sort; echo '--stdin--'; cat \"$t.in\"; } > \"$t\"\n"
            "mv \"$t\" \"$d/ev.${t##*tmp.}\"\n"
            "if [ \"$SERF_EVENT\" = query ]; then printf 'response from %s:' \"$SERF_SELF_NAME\"; "
            "tr -d '\\n' < \"$t.in\"; fi\n"
            "rm -f \"$t.in\"\n");
}

/// Every record the recorder wrote for `node`.
inline std::vector<Record> read_records(const std::string& dir, const std::string& node) {
    std::vector<Record> out;
    const std::string d = dir + "/rec-" + node;
    DIR* dp = ::opendir(d.c_str());
    if (dp == nullptr)
        return out;
    std::vector<std::string> names;
    while (auto* e = ::readdir(dp)) {
        std::string n = e->d_name;
        if (n.rfind("ev.", 0) == 0)
            names.push_back(n);
    }
    ::closedir(dp);
    for (const auto& n : names) {
        auto text = read_file(d + "/" + n);
        Record r;
        auto pos = text.find("--stdin--\n");
        std::string envs = pos == std::string::npos ? text : text.substr(0, pos);
        if (pos != std::string::npos)
            r.in = text.substr(pos + 10);
        std::istringstream ss(envs);
        std::string line;
        while (std::getline(ss, line)) {
            auto eq = line.find('=');
            if (eq != std::string::npos)
                r.env[line.substr(0, eq)] = line.substr(eq + 1);
        }
        out.push_back(std::move(r));
    }
    return out;
}

/// Records of `node` with SERF_EVENT == kind (and, if given, SERF_USER_EVENT/SERF_QUERY_NAME == name).
inline std::vector<Record> records_of(const std::string& dir, const std::string& node,
                                      const std::string& kind, const std::string& name = "") {
    std::vector<Record> out;
    for (auto& r : read_records(dir, node)) {
        if (r.event() != kind)
            continue;
        if (!name.empty() && r.get("SERF_USER_EVENT") != name && r.get("SERF_QUERY_NAME") != name)
            continue;
        out.push_back(std::move(r));
    }
    return out;
}

/// A member line "name\taddr\trole\ttags" with its tags sorted: Serf's agent writes them in Go map
/// order (random), clusterd in key order.
inline std::string sorted_tags(const std::string& line) {
    auto tab = line.rfind('\t');
    if (tab == std::string::npos)
        return line;
    std::vector<std::string> parts;
    std::istringstream ss(line.substr(tab + 1));
    std::string p;
    while (std::getline(ss, p, ','))
        parts.push_back(p);
    std::sort(parts.begin(), parts.end());
    std::string out = line.substr(0, tab + 1);
    for (std::size_t i = 0; i < parts.size(); ++i)
        out += (i ? "," : "") + parts[i];
    return out;
}

/// stdin lines (tags sorted) of every `kind` member event `node` recorded.
inline std::set<std::string> member_lines(const std::string& dir, const std::string& node,
                                          const std::string& kind) {
    std::set<std::string> out;
    for (const auto& r : records_of(dir, node, kind)) {
        std::istringstream ss(r.in);
        std::string line;
        while (std::getline(ss, line))
            if (!line.empty())
                out.insert(sorted_tags(line));
    }
    return out;
}

/// Counts lines of a file containing `needle`.
inline int count_lines(const std::string& path, const std::string& needle) {
    std::istringstream ss(read_file(path));
    std::string line;
    int n = 0;
    while (std::getline(ss, line))
        if (line.find(needle) != std::string::npos)
            ++n;
    return n;
}

} // namespace clusterd::testing
