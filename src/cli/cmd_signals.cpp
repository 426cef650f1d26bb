// SIGINT/SIGTERM flag for the long-running client subcommands.
#include "cmd_signals.hpp"

#include <csignal>

namespace clusterd::cli::signals {
namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_signal(int) {
    g_interrupted = 1;
}
} // namespace

void install() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() {
    return g_interrupted != 0;
}

} // namespace clusterd::cli::signals
