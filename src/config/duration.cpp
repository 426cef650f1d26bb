// Go duration syntax: parser and printer (see duration.hpp).
#include "clusterd/config/duration.hpp"

#include <cstdint>
#include <limits>

namespace clusterd::config {
namespace {

struct Unit {
    std::string_view name;
    std::uint64_t ns;
};
constexpr Unit kUnits[] = {
    {"ns", 1ULL},       {"us", 1000ULL},      {"\xC2\xB5s", 1000ULL}, {"\xCE\xBCs", 1000ULL},
    {"ms", 1000000ULL}, {"s", 1000000000ULL}, {"m", 60000000000ULL},  {"h", 3600000000000ULL},
};

base::Error bad(std::string_view text, const std::string& why) {
    return base::make_error("bad_duration", "invalid duration '" + std::string(text) + "': " + why);
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

} // namespace

base::Result<base::Duration> parse_go_duration(std::string_view text) {
    std::string_view s = text;
    bool negative = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == "0")
        return base::Duration{0};
    if (s.empty())
        return bad(text, "empty");
    // Accumulate in unsigned 64-bit nanoseconds; the limit is 2^63 (or 2^63-1 when positive).
    const std::uint64_t limit =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
    std::uint64_t total = 0;
    while (!s.empty()) {
        if (!(is_digit(s[0]) || s[0] == '.'))
            return bad(text, "expected a number");
        std::uint64_t whole = 0;
        bool any_digits = false;
        bool overflow = false;
        std::size_t i = 0;
        for (; i < s.size() && is_digit(s[i]); ++i) {
            any_digits = true;
            if (whole > (std::numeric_limits<std::uint64_t>::max() - 9) / 10)
                overflow = true;
            whole = whole * 10 + static_cast<std::uint64_t>(s[i] - '0');
        }
        if (overflow)
            return bad(text, "out of range");
        std::uint64_t frac = 0, scale = 1;
        if (i < s.size() && s[i] == '.') {
            ++i;
            for (; i < s.size() && is_digit(s[i]); ++i) {
                any_digits = true;
                if (scale < 1000000000000000000ULL) { // keep 18 fractional digits at most
                    frac = frac * 10 + static_cast<std::uint64_t>(s[i] - '0');
                    scale *= 10;
                }
            }
        }
        if (!any_digits)
            return bad(text, "expected a number");
        s.remove_prefix(i);
        std::size_t ulen = 0;
        while (ulen < s.size() && !is_digit(s[ulen]) && s[ulen] != '.')
            ++ulen;
        if (ulen == 0)
            return bad(text, "missing unit (use ns, us, ms, s, m or h)");
        const std::string_view uname = s.substr(0, ulen);
        const Unit* unit = nullptr;
        for (const auto& u : kUnits)
            if (u.name == uname)
                unit = &u;
        if (unit == nullptr)
            return bad(text, "unknown unit '" + std::string(uname) + "'");
        s.remove_prefix(ulen);
        if (whole > limit / unit->ns)
            return bad(text, "out of range");
        std::uint64_t v = whole * unit->ns;
        // fractional part: frac/scale * unit, computed without overflow for unit <= 1h
        const long double f = static_cast<long double>(frac) * static_cast<long double>(unit->ns) /
                              static_cast<long double>(scale);
        v += static_cast<std::uint64_t>(f);
        if (v > limit || total > limit - v)
            return bad(text, "out of range");
        total += v;
    }
    if (negative) {
        if (total == static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1)
            return base::Duration{std::numeric_limits<std::int64_t>::min()};
        return base::Duration{-static_cast<std::int64_t>(total)};
    }
    return base::Duration{static_cast<std::int64_t>(total)};
}

namespace {
// Writes v/10^prec with trailing zeros of the fraction removed ("1.5", "2").
std::string with_fraction(std::uint64_t v, int prec) {
    std::uint64_t pow = 1;
    for (int i = 0; i < prec; ++i)
        pow *= 10;
    std::string out = std::to_string(v / pow);
    std::uint64_t frac = v % pow;
    if (frac != 0) {
        std::string digits(static_cast<std::size_t>(prec), '0');
        for (int i = prec - 1; i >= 0; --i) {
            digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + frac % 10);
            frac /= 10;
        }
        while (!digits.empty() && digits.back() == '0')
            digits.pop_back();
        out += "." + digits;
    }
    return out;
}
} // namespace

std::string format_go_duration(base::Duration d) {
    const std::int64_t n = d.count();
    if (n == 0)
        return "0s";
    const bool neg = n < 0;
    const std::uint64_t u = neg ? static_cast<std::uint64_t>(-(n + 1)) + 1 : static_cast<std::uint64_t>(n);
    std::string out;
    if (u < 1000000000ULL) {
        if (u < 1000ULL)
            out = std::to_string(u) + "ns";
        else if (u < 1000000ULL)
            out = with_fraction(u, 3) + "\xC2\xB5s";
        else
            out = with_fraction(u, 6) + "ms";
    } else {
        const std::uint64_t hours = u / 3600000000000ULL;
        const std::uint64_t rem_h = u % 3600000000000ULL;
        const std::uint64_t mins = rem_h / 60000000000ULL;
        const std::uint64_t secs_ns = rem_h % 60000000000ULL;
        const std::string secs = with_fraction(secs_ns, 9) + "s";
        if (hours > 0)
            out = std::to_string(hours) + "h" + std::to_string(mins) + "m" + secs;
        else if (mins > 0)
            out = std::to_string(mins) + "m" + secs;
        else
            out = secs;
    }
    return neg ? "-" + out : out;
}

} // namespace clusterd::config
