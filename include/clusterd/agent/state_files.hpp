// Serf's small state files: the keyring file (JSON array of base64 keys, primary first) and the
// tags file (JSON object). Both are rewritten atomically with mode 0600, pretty-printed as Serf does.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "clusterd/base/result.hpp"

namespace clusterd::agent {

/// Reads a keyring file. Errors name the file: missing, not JSON, not an array of strings, empty.
base::Result<std::vector<std::string>> read_keyring_file(const std::string& path);
base::Status write_keyring_file(const std::string& path, const std::vector<std::string>& keys);

/// Reads a tags file (JSON object of strings). A missing file is an empty map.
base::Result<std::map<std::string, std::string>> read_tags_file(const std::string& path);
base::Status write_tags_file(const std::string& path, const std::map<std::string, std::string>& tags);

/// Writes `content` to `path` via a temporary file + fsync + rename, with the given mode.
base::Status write_file_atomic(const std::string& path, const std::string& content, unsigned mode);

}  // namespace clusterd::agent
