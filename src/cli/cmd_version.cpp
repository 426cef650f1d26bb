// `clusterd version`: the version and the Serf agent protocol range, in Serf's two-line layout.
#include <iostream>

#include "clusterd/base/version.hpp"
#include "registry.hpp"

namespace clusterd::cli {
namespace {
Registrar reg{
    CommandSpec{"version", "print the clusterd version and the Serf protocol range", [](CLI::App&) -> Runner {
                    return [] {
                        std::cout << "clusterd v" << base::version() << "\n"
                                  << "Agent Protocol: " << base::kSerfProtocolMax
                                  << " (Understands back to: " << base::kSerfProtocolMin << ")\n";
                        return 0;
                    };
                }}};
} // namespace
} // namespace clusterd::cli
