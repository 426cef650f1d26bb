// Fuzzes clusterd::regex with arbitrary patterns (Serf's member-filter anchoring and the
// unanchored query form): compiling never crashes or recurses deeply, errors carry Go's prefix,
// and a compiled expression searches a text derived from the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "clusterd/regex/regex.hpp"

using namespace clusterd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto cut = in.find('\n');
    const std::string_view pattern = in.substr(0, cut);
    const std::string_view text = cut == std::string_view::npos ? in : in.substr(cut + 1);
    auto anchored = regex::compile_member_filter(pattern);
    if (anchored.ok()) {
        (void)anchored->search(text);
    } else if (anchored.error().message.rfind("Failed to compile regex: error parsing regexp: ", 0) != 0) {
        __builtin_trap();
    }
    (void)regex::query_filter_matches(pattern, text);
    return 0;
}
