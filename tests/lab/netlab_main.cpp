// netlab: the lab fixture from the command line, for trying things by hand and for scripts
// (examples/kong-lab).
//
//   netlab up [-n HOSTS] [--ipv6] [--ipv6-only H]... [--env FILE]
//       builds a lab, prints one line per host, writes FILE (shell variables NETLAB_NS<i>,
//       NETLAB_IP<i>, NETLAB_IP6<i>, NETLAB_HOSTS) if asked, then waits until SIGINT/SIGTERM
//       (or, with --env, until FILE is removed) and removes everything it made.
//   netlab sweep
//       removes labs left behind by processes that are gone.
//   netlab guard PREFIX
//       (started by every Lab) reads stdin to its end; unless it read "done", the lab's process
//       died without removing its lab, and the guard removes "PREFIX-*".
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "support/netlab.hpp"

namespace {
volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
    g_stop = 1;
}

int usage() {
    std::cerr << "usage: netlab up [-n HOSTS] [--ipv6] [--ipv6-only H]... [--env FILE]\n"
                 "       netlab sweep\n";
    return 2;
}
} // namespace

int main(int argc, char** argv) {
    using namespace clusterd::testing;
    if (argc < 2)
        return usage();
    const std::string cmd = argv[1];
    try {
        if (cmd == "sweep") {
            if (auto why = netlab::unavailable_reason(); !why.empty()) {
                std::cerr << "netlab: " << why << "\n";
                return 1;
            }
            std::cout << "removed " << netlab::Lab::sweep() << " leftover namespace(s)\n";
            return 0;
        }
        if (cmd == "guard" && argc == 3) {
            ::signal(SIGINT, SIG_IGN);
            ::signal(SIGHUP, SIG_IGN);
            ::signal(SIGPIPE, SIG_IGN);
            std::string in;
            char buf[64];
            while (true) {
                const ssize_t n = ::read(0, buf, sizeof buf);
                if (n > 0) {
                    in.append(buf, static_cast<std::size_t>(n));
                } else if (n < 0 && errno == EINTR) {
                    continue;
                } else {
                    break;
                }
            }
            if (in.find("done") != std::string::npos)
                return 0;
            netlab::Lab::remove_prefix(argv[2]);
            return 0;
        }
        if (cmd != "up")
            return usage();
        netlab::Options opts;
        std::string env_file;
        for (int i = 2; i < argc; ++i) {
            const std::string a = argv[i];
            if ((a == "-n" || a == "--hosts") && i + 1 < argc) {
                opts.hosts = std::atoi(argv[++i]);
            } else if (a == "--ipv6") {
                opts.ipv6 = true;
            } else if (a == "--ipv6-only" && i + 1 < argc) {
                opts.ipv6_only.insert(std::atoi(argv[++i]));
            } else if (a == "--env" && i + 1 < argc) {
                env_file = argv[++i];
            } else {
                return usage();
            }
        }
        ::signal(SIGINT, on_signal);
        ::signal(SIGTERM, on_signal);
        ::signal(SIGHUP, on_signal);
        netlab::Lab lab(opts);
        std::string env;
        for (int h = 0; h < lab.size(); ++h) {
            std::cout << "host " << h << " ns=" << lab.ns(h) << " ipv4=" << lab.ipv4(h)
                      << " ipv6=" << lab.ipv6(h) << "\n";
            const auto i = std::to_string(h);
            env += "NETLAB_NS" + i + "=" + lab.ns(h) + "\nNETLAB_IP" + i + "=" + lab.ipv4(h) +
                   "\nNETLAB_IP6" + i + "=" + lab.ipv6(h) + "\n";
        }
        env += "NETLAB_HOSTS=" + std::to_string(lab.size()) + "\n";
        if (!env_file.empty()) {
            const std::string tmp = env_file + ".tmp";
            std::ofstream(tmp) << env;
            std::filesystem::rename(tmp, env_file);
        }
        std::cout << "ready; Ctrl-C removes the lab" << std::endl;
        // Bounded only by the caller: a lab is meant to live until it is told to go.
        while (g_stop == 0) {
            if (!env_file.empty() && !std::filesystem::exists(env_file))
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        lab.teardown();
        std::cout << "lab removed" << std::endl;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
}
