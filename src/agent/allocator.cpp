// See allocator.hpp.
#include "clusterd/agent/allocator.hpp"

#include <sys/prctl.h>
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
// Set across the re-exec only: the process name (comm) before it. Executing /proc/self/exe
// names the process "exe"; ps, pgrep, ss -p and systemd's journal show that name.
constexpr const char* kName = "CLUSTERD_ALLOCATOR_NAME";

void restore(const char* marker) {
    const std::string m = marker;
    if (m.size() >= 1 && m[0] == '=')
        ::setenv(kTunables, m.c_str() + 1, 1);
    else
        ::unsetenv(kTunables);
    ::unsetenv(kMarker);
    ::unsetenv(kName);
}

// Valgrind runs the program with its preload objects in LD_PRELOAD; an exec from inside it
// would leave valgrind (its tool image is /proc/self/exe), so the agent keeps the defaults.
bool under_valgrind() {
    const char* preload = std::getenv("LD_PRELOAD");
    return preload != nullptr && std::string(preload).find("vgpreload") != std::string::npos;
}

} // namespace

void apply_allocator_setting(char** argv) {
    if (const char* marker = std::getenv(kMarker); marker != nullptr) {
        if (const char* name = std::getenv(kName); name != nullptr && *name != '\0')
            ::prctl(PR_SET_NAME, name, 0, 0, 0);
        restore(marker);
        return;
    }
    if (base::sanitized_build() || under_valgrind() || std::getenv("CLUSTERD_MALLOC_DEFAULTS") != nullptr)
        return;
    const char* cur = std::getenv(kTunables);
    const std::string old = cur != nullptr ? cur : "";
    if (old.find("glibc.malloc.tcache_count") != std::string::npos)
        return;
    const std::string marker = cur != nullptr ? "=" + old : "-";
    const std::string tuned = old.empty() ? std::string(kSetting) : old + ":" + kSetting;
    char name[17] = {}; // the kernel's limit is 16 bytes with the terminator
    if (::prctl(PR_GET_NAME, name, 0, 0, 0) != 0)
        name[0] = '\0';
    if (::setenv(kMarker, marker.c_str(), 1) != 0 || ::setenv(kTunables, tuned.c_str(), 1) != 0 ||
        ::setenv(kName, name, 1) != 0) {
        restore(marker.c_str());
        return;
    }
    ::execv("/proc/self/exe", argv);
    restore(marker.c_str()); // the exec failed: run with glibc's defaults
}

} // namespace clusterd::agent
