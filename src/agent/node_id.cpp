// Kong-style generated node names and the persisted node id (see node_id.hpp).
#include "clusterd/agent/node_id.hpp"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "clusterd/base/bytes.hpp"

namespace clusterd::agent {
namespace {

bool is_hex32(const std::string& s) {
    if (s.size() != 32)
        return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    return true;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
        s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
        ++i;
    return s.substr(i);
}

} // namespace

std::string kong_node_name(const std::string& hostname, const std::string& cluster_listen,
                           const std::string& id) {
    return hostname + "_" + cluster_listen + "_" + id;
}

base::Result<std::string> random_node_id() {
    std::uint8_t b[16];
    std::size_t got = 0;
    while (got < sizeof b) {
        const ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return base::make_error("random", std::string("getrandom: ") + std::strerror(errno));
        }
        got += static_cast<std::size_t>(n);
    }
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40); // version 4
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80); // RFC 4122 variant
    return base::to_hex(base::ByteView(b, sizeof b));
}

base::Result<std::string> load_or_create_node_id(const std::string& data_dir) {
    namespace fs = std::filesystem;
    const fs::path file = fs::path(data_dir) / "node-id";
    std::error_code ec;
    if (fs::exists(file, ec)) {
        std::ifstream in(file);
        if (!in)
            return base::make_error("node_id", file.string() + ": cannot read node id file");
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string id = trim(ss.str());
        if (!is_hex32(id))
            return base::make_error("node_id", file.string() + ": expected 32 hex digits, found '" +
                                                   id.substr(0, 64) +
                                                   "' (delete the file to generate a new id)");
        return id;
    }
    if (!fs::exists(data_dir, ec)) {
        fs::create_directories(data_dir, ec);
        if (ec)
            return base::make_error("node_id", data_dir + ": cannot create data_dir: " + ec.message());
        ::chmod(data_dir.c_str(), 0700);
    } else if (!fs::is_directory(data_dir, ec)) {
        return base::make_error("node_id", data_dir + ": data_dir is not a directory");
    }
    auto id = random_node_id();
    if (!id)
        return id;
    const fs::path tmp = fs::path(data_dir) / ("node-id.tmp." + std::to_string(::getpid()));
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << *id << "\n";
        out.flush();
        if (!out) {
            fs::remove(tmp, ec);
            return base::make_error("node_id", tmp.string() + ": cannot write node id file");
        }
    }
    fs::rename(tmp, file, ec);
    if (ec) {
        fs::remove(tmp, ec);
        return base::make_error("node_id", file.string() + ": cannot create node id file: " + ec.message());
    }
    return id;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0)
        return "localhost";
    return buf;
}

base::Result<std::string> default_node_name(const std::string& data_dir, const std::string& cluster_listen,
                                            bool* persisted) {
    base::Result<std::string> id = data_dir.empty() ? random_node_id() : load_or_create_node_id(data_dir);
    if (!id)
        return id;
    if (persisted != nullptr)
        *persisted = !data_dir.empty();
    return kong_node_name(host_name(), cluster_listen, *id);
}

} // namespace clusterd::agent
