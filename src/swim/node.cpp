// Address formatting and state names; see node.hpp.
#include "clusterd/swim/node.hpp"

#include <cstdio>

namespace clusterd::swim {

std::string Address::to_string() const {
    std::string host;
    if (ip.size() == 4) {
        host = std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." +
               std::to_string(ip[3]);
    } else if (ip.size() == 16) {
        char buf[8];
        host = "[";
        for (std::size_t i = 0; i < 16; i += 2) {
            std::snprintf(buf, sizeof buf, "%x", (ip[i] << 8) | ip[i + 1]);
            if (i)
                host += ":";
            host += buf;
        }
        host += "]";
    } else {
        host = "?";
    }
    return host + ":" + std::to_string(port);
}

const char* state_name(State s) {
    switch (s) {
    case State::Alive:
        return "alive";
    case State::Suspect:
        return "suspect";
    case State::Dead:
        return "dead";
    case State::Left:
        return "left";
    }
    return "unknown";
}

} // namespace clusterd::swim
