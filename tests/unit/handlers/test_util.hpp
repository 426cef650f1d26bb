// Helpers shared by the handler tests: temp directories (removed at the end, unlike the
// support library's temp_dir), bounded io_context runs, file reading.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "support/asio_pump.hpp"

namespace clusterd::testutil {

class TempDir {
  public:
    explicit TempDir(const std::string& tag = "t") {
        static int counter = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("clusterd-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        if (std::getenv("CLUSTERD_KEEP_TMP") != nullptr)
            return; // debugging: keep the files
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string path() const { return path_.string(); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Runs `io` until `done()` is true or `limit` passes; returns done() (support/asio_pump.hpp).
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit) {
    io.restart();
    return clusterd::testing::pump_until(io, done, limit, std::chrono::milliseconds(20));
}

inline std::string record_script() {
    return std::string(HANDLERS_TEST_DIR) + "/record.sh";
}

/// What record.sh writes for an env: the SERF_* entries sorted, then INHERITED=.
inline std::string expected_record_env(const std::vector<std::string>& env) {
    std::vector<std::string> serf;
    std::string inherited;
    for (const auto& e : env) {
        if (e.rfind("SERF_", 0) == 0)
            serf.push_back(e);
        if (e.rfind("CLUSTERD_RECORD_INHERIT=", 0) == 0)
            inherited = e.substr(e.find('=') + 1);
    }
    std::sort(serf.begin(), serf.end());
    std::string out;
    for (const auto& s : serf)
        out += s + "\n";
    return out + "INHERITED=" + inherited + "\n";
}

} // namespace clusterd::testutil
