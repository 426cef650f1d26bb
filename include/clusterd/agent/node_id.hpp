// The node name clusterd uses when none is configured: Kong's
// "<hostname>_<cluster_listen>_<32 hex uuid>". The uuid is created once and kept in
// <data_dir>/node-id, so a restarted node keeps its name.
#pragma once

#include <string>

#include "clusterd/base/result.hpp"

namespace clusterd::agent {

/// Kong's format: hostname + "_" + listen address + "_" + id.
std::string kong_node_name(const std::string& hostname, const std::string& cluster_listen,
                           const std::string& id);

/// A random UUID v4 as 32 lower-case hex digits (no dashes), from the OS random source.
base::Result<std::string> random_node_id();

/// Reads <data_dir>/node-id, or creates it (and data_dir, mode 0700) with a new random id.
/// An existing file that does not hold 32 hex digits is an error naming the file.
base::Result<std::string> load_or_create_node_id(const std::string& data_dir);

/// The machine's host name.
std::string host_name();

/// The default node name for `cluster_listen`: Kong-style, with the id from data_dir (or a fresh,
/// unsaved id when data_dir is empty: then `*persisted` is false).
base::Result<std::string> default_node_name(const std::string& data_dir, const std::string& cluster_listen,
                                            bool* persisted = nullptr);

} // namespace clusterd::agent
