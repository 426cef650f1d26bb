#include "clusterd/agent/agent.hpp"

#include <asio.hpp>
#include <cstdlib>
#include <iostream>

#include "clusterd/config/config.hpp"

namespace clusterd::agent {
namespace {

asio::ip::udp::endpoint parse_endpoint(const std::string& hostport, unsigned short default_port) {
    std::string host = hostport;
    unsigned short port = default_port;
    auto colon = hostport.rfind(':');
    if (colon != std::string::npos && hostport.find(']') < colon) {
        host = hostport.substr(0, colon);
        port = static_cast<unsigned short>(std::stoi(hostport.substr(colon + 1)));
    } else if (colon != std::string::npos && hostport.find(':') == colon) {
        host = hostport.substr(0, colon);
        port = static_cast<unsigned short>(std::stoi(hostport.substr(colon + 1)));
    }
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    return {asio::ip::make_address(host), port};
}

}  // namespace

int run_agent(const config::FlagValues& flags) {
    const std::string path = config::pick_config_path(flags, std::getenv("CLUSTERD_CONFIG"));
    auto cfg = config::load_config(path, flags);
    if (!cfg) {
        std::cerr << "clusterd agent: " << cfg.error().message << "\n";
        return 1;
    }
    try {
        asio::io_context io;
        auto gossip = parse_endpoint(cfg->bind, 7946);
        auto rpc = parse_endpoint(cfg->rpc_addr, 7373);
        asio::ip::udp::socket udp(io, gossip);
        asio::ip::tcp::acceptor tcp(io, asio::ip::tcp::endpoint(gossip.address(), gossip.port()));
        asio::ip::tcp::acceptor rpc_acceptor(io, asio::ip::tcp::endpoint(rpc.address(), rpc.port()));
        std::cout << "clusterd agent: config " << (path.empty() ? "(built-in defaults)" : path) << "\n"
                  << "  gossip (udp+tcp): " << gossip << "\n"
                  << "  rpc (tcp):        " << rpc << "\n"
                  << "clusterd agent running (membership engine not yet wired)" << std::endl;
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const std::error_code&, int sig) {
            std::cout << "clusterd agent: caught signal " << sig << ", stopping" << std::endl;
            io.stop();
        });
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "clusterd agent: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace clusterd::agent
