// swim::Config profiles with memberlist's DefaultLANConfig/WANConfig/LocalConfig numbers.
#include "clusterd/swim/config.hpp"

namespace clusterd::swim {

using std::chrono::milliseconds;
using std::chrono::seconds;

Config Config::lan() {
    return Config{};
} // the member initialisers are the LAN numbers

Config Config::wan() {
    Config c = lan();
    c.tcp_timeout = seconds(30);
    c.suspicion_mult = 6;
    c.push_pull_interval = seconds(60);
    c.probe_timeout = seconds(3);
    c.probe_interval = seconds(5);
    c.gossip_nodes = 4;
    c.gossip_interval = milliseconds(500);
    c.gossip_to_the_dead_time = seconds(60);
    return c;
}

Config Config::local() {
    Config c = lan();
    c.tcp_timeout = seconds(1);
    c.indirect_checks = 1;
    c.retransmit_mult = 2;
    c.suspicion_mult = 3;
    c.push_pull_interval = seconds(15);
    c.probe_timeout = milliseconds(200);
    c.probe_interval = seconds(1);
    c.gossip_interval = milliseconds(100);
    c.gossip_to_the_dead_time = seconds(15);
    return c;
}

bool Config::from_profile(const std::string& profile, Config& out) {
    if (profile == "lan") {
        out = lan();
    } else if (profile == "wan") {
        out = wan();
    } else if (profile == "local") {
        out = local();
    } else {
        return false;
    }
    return true;
}

} // namespace clusterd::swim
