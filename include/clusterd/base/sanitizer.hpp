// Whether this translation unit is built with a sanitizer (ASan, TSan or MSan), for code that
// must behave differently there: the agent's allocator setting (glibc's malloc is not the one
// in use) and tests that run fewer seeds in sanitizer trees.
#pragma once

namespace clusterd::base {

constexpr bool sanitized_build() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

} // namespace clusterd::base
