#include "clusterd/agent/state_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace clusterd::agent {
namespace {
base::Result<std::string> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return base::make_error("io", path + ": cannot open: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
} // namespace

base::Status write_file_atomic(const std::string& path, const std::string& content, unsigned mode) {
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return base::make_error("io", tmp + ": cannot create: " + std::strerror(errno));
    // Every failure below closes the descriptor and removes the partial temporary file: the
    // target keeps its old content, and a full disk is not made fuller by the attempt.
    auto fail = [&](const std::string& what, int e) {
        if (fd >= 0)
            ::close(fd);
        ::unlink(tmp.c_str());
        return base::make_error("io", what + std::strerror(e));
    };
    std::size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(path + ": write failed: ", errno);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, mode) != 0)
        return fail(path + ": chmod failed: ", errno);
    if (::fsync(fd) != 0)
        return fail(path + ": fsync failed: ", errno);
    const int rc = ::close(fd);
    fd = -1;
    if (rc != 0)
        return fail(path + ": close failed: ", errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return fail(path + ": rename failed: ", errno);
    // The rename itself reaches the disk with the directory.
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return base::ok_status();
}

base::Status PendingFile::write(std::string content) {
    pending_ = std::move(content);
    return attempt();
}

bool PendingFile::retry() {
    if (!pending_)
        return false;
    return attempt().ok();
}

base::Status PendingFile::attempt() {
    auto st = write_file_atomic(path_, *pending_, mode_);
    if (st.ok()) {
        pending_.reset();
        if (failing_)
            change_ =
                path_ + ": written again after " + std::to_string(failed_attempts_) + " failed attempt(s)";
        failing_ = false;
        failed_attempts_ = 0;
        return st;
    }
    ++failed_attempts_;
    if (!failing_)
        change_ = st.error().message + " (will retry)";
    failing_ = true;
    return st;
}

std::optional<std::string> PendingFile::take_change() {
    auto c = std::move(change_);
    change_.reset();
    return c;
}

base::Result<std::vector<std::string>> read_keyring_file(const std::string& path) {
    auto text = slurp(path);
    if (!text)
        return text.error();
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_array())
        return base::make_error("bad_keyring", path + ": keyring file must be a JSON array of base64 keys");
    std::vector<std::string> keys;
    for (const auto& k : j) {
        if (!k.is_string())
            return base::make_error("bad_keyring", path + ": every key must be a string");
        keys.push_back(k.get<std::string>());
    }
    if (keys.empty())
        return base::make_error("bad_keyring", path + ": keyring file has no keys");
    return keys;
}

std::string keyring_file_text(const std::vector<std::string>& keys) {
    nlohmann::json j = keys;
    return j.dump(2) + "\n";
}

base::Status write_keyring_file(const std::string& path, const std::vector<std::string>& keys) {
    return write_file_atomic(path, keyring_file_text(keys), 0600);
}

base::Result<std::map<std::string, std::string>> read_tags_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return std::map<std::string, std::string>{};
    auto text = slurp(path);
    if (!text)
        return text.error();
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return base::make_error("bad_tags", path + ": tags file must be a JSON object of strings");
    std::map<std::string, std::string> tags;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (!it.value().is_string())
            return base::make_error("bad_tags", path + ": tag '" + it.key() + "' must be a string");
        tags[it.key()] = it.value().get<std::string>();
    }
    return tags;
}

base::Status write_tags_file(const std::string& path, const std::map<std::string, std::string>& tags) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : tags)
        j[k] = v;
    return write_file_atomic(path, j.dump(2) + "\n", 0600);
}

} // namespace clusterd::agent
