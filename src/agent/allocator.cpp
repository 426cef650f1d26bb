// See allocator.hpp.
#include "clusterd/agent/allocator.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "clusterd/base/sanitizer.hpp"

namespace clusterd::agent {
namespace {

constexpr const char* kTunables = "GLIBC_TUNABLES";
constexpr const char* kSetting = "glibc.malloc.tcache_count=0";
// Set across the re-exec only: "-" when GLIBC_TUNABLES was unset, else "=" + its old value.
constexpr const char* kMarker = "CLUSTERD_ALLOCATOR_REEXEC";

void restore(const char* marker) {
    const std::string m = marker;
    if (m.size() >= 1 && m[0] == '=')
        ::setenv(kTunables, m.c_str() + 1, 1);
    else
        ::unsetenv(kTunables);
    ::unsetenv(kMarker);
}

} // namespace

void apply_allocator_setting(char** argv) {
    if (const char* marker = std::getenv(kMarker); marker != nullptr) {
        restore(marker);
        return;
    }
    if (base::sanitized_build() || std::getenv("CLUSTERD_MALLOC_DEFAULTS") != nullptr)
        return;
    const char* cur = std::getenv(kTunables);
    const std::string old = cur != nullptr ? cur : "";
    if (old.find("glibc.malloc.tcache_count") != std::string::npos)
        return;
    const std::string marker = cur != nullptr ? "=" + old : "-";
    const std::string tuned = old.empty() ? std::string(kSetting) : old + ":" + kSetting;
    if (::setenv(kMarker, marker.c_str(), 1) != 0 || ::setenv(kTunables, tuned.c_str(), 1) != 0) {
        restore(marker.c_str());
        return;
    }
    ::execv("/proc/self/exe", argv);
    restore(marker.c_str()); // the exec failed: run with glibc's defaults
}

} // namespace clusterd::agent
