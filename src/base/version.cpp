// base::version(): the project version CMake passes in (see version.hpp).
#include "clusterd/base/version.hpp"

#ifndef CLUSTERD_VERSION
#error "CLUSTERD_VERSION is set for this file by src/base/CMakeLists.txt"
#endif

namespace clusterd::base {

const char* version() {
    return CLUSTERD_VERSION;
}

} // namespace clusterd::base
