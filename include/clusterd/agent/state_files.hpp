// Serf's small state files: the keyring file (JSON array of base64 keys, primary first) and the
// tags file (JSON object). Both are rewritten atomically with mode 0600, pretty-printed as Serf does.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/base/result.hpp"

namespace clusterd::agent {

/// Reads a keyring file. Errors name the file: missing, not JSON, not an array of strings, empty.
base::Result<std::vector<std::string>> read_keyring_file(const std::string& path);
base::Status write_keyring_file(const std::string& path, const std::vector<std::string>& keys);
/// What write_keyring_file writes.
std::string keyring_file_text(const std::vector<std::string>& keys);

/// Reads a tags file (JSON object of strings). A missing file is an empty map.
base::Result<std::map<std::string, std::string>> read_tags_file(const std::string& path);
base::Status write_tags_file(const std::string& path, const std::map<std::string, std::string>& tags);

/// Writes `content` to `path` via a temporary file + fsync + rename, with the given mode. On any
/// failure `path` is untouched and the temporary file is removed (a full disk keeps no partial
/// copy), and no descriptor stays open.
base::Status write_file_atomic(const std::string& path, const std::string& content, unsigned mode);

/// A state file written atomically that remembers content it could not write (disk full, EIO)
/// and writes it on retry(). The caller logs take_change(): one line when writing starts to
/// fail, one when it succeeds again, never one per attempt.
class PendingFile {
  public:
    PendingFile(std::string path, unsigned mode) : path_(std::move(path)), mode_(mode) {}
    /// Writes `content` now; on failure keeps it for retry() and returns the error.
    base::Status write(std::string content);
    /// Writes the pending content, if any. True when it was written now.
    bool retry();
    bool pending() const { return pending_.has_value(); }
    /// The message for the last change of state (failing / written again), once.
    std::optional<std::string> take_change();
    const std::string& path() const { return path_; }

  private:
    base::Status attempt();
    std::string path_;
    unsigned mode_;
    std::optional<std::string> pending_;
    bool failing_ = false;
    std::size_t failed_attempts_ = 0;
    std::optional<std::string> change_;
};

} // namespace clusterd::agent
