// libFuzzer target for the config front-ends: YAML, Serf JSON, Go durations, handler specs.
// Bad input must give an Error, never a crash, hang or unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "clusterd/config/config.hpp"
#include "clusterd/config/duration.hpp"
#include "clusterd/config/event_filter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0 || size > 64 * 1024)
        return 0;
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
    case 0: {
        auto r = clusterd::config::load_yaml_text(text, "fuzz.yml");
        if (r.ok())
            (void)clusterd::config::render_config(*r);
        break;
    }
    case 1: {
        clusterd::config::Config c;
        (void)clusterd::config::apply_json_text(c, text, "fuzz.json");
        (void)clusterd::config::validate_config(c);
        break;
    }
    case 2: {
        auto d = clusterd::config::parse_go_duration(text);
        if (d.ok())
            (void)clusterd::config::format_go_duration(*d);
        break;
    }
    default:
        (void)clusterd::config::parse_handler_spec(text);
        (void)clusterd::config::check_ip_port(text, 7946);
        break;
    }
    return 0;
}
