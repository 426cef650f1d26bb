// Go's regexp semantics on RE2 (see regex.hpp): option set, Go's error texts, and the two checks
// RE2 does not make (Go's `\C` refusal, the nesting bound) plus the pattern size bound.
#include "clusterd/regex/regex.hpp"

#include <optional>
#include <re2/re2.h>

namespace clusterd::regex {

namespace {

/// Go's regexp/syntax ErrorCode texts, by RE2 error code (the two parsers share their design,
/// so each RE2 code has exactly one Go counterpart).
const char* go_code_text(re2::RE2::ErrorCode code) {
    switch (code) {
    case re2::RE2::ErrorBadEscape:
        return "invalid escape sequence";
    case re2::RE2::ErrorBadCharClass:
        return "invalid character class";
    case re2::RE2::ErrorBadCharRange:
        return "invalid character class range";
    case re2::RE2::ErrorMissingBracket:
        return "missing closing ]";
    case re2::RE2::ErrorMissingParen:
        return "missing closing )";
    case re2::RE2::ErrorUnexpectedParen:
        return "unexpected )";
    case re2::RE2::ErrorTrailingBackslash:
        return "trailing backslash at end of expression";
    case re2::RE2::ErrorRepeatArgument:
        return "missing argument to repetition operator";
    case re2::RE2::ErrorRepeatSize:
        return "invalid repeat count";
    case re2::RE2::ErrorRepeatOp:
        return "invalid nested repetition operator";
    case re2::RE2::ErrorBadPerlOp:
        return "invalid or unsupported Perl syntax";
    case re2::RE2::ErrorBadUTF8:
        return "invalid UTF-8";
    case re2::RE2::ErrorBadNamedCapture:
        return "invalid named capture";
    case re2::RE2::ErrorPatternTooLarge:
        return "expression too large";
    default:
        return "regexp/syntax: internal error";
    }
}

/// Go's syntax.Error.Error(): "error parsing regexp: <code>: `<expr>`". Expressions we refuse for
/// their size are shortened in the message.
base::Error go_error(const char* what, std::string_view expr) {
    constexpr std::size_t kShown = 64;
    std::string shown(expr.substr(0, kShown));
    if (expr.size() > kShown)
        shown += "...";
    return base::make_error("bad_regexp", std::string("error parsing regexp: ") + what + ": `" + shown + "`");
}

/// What RE2 would accept but Go refuses (`\C`, any byte), and nesting deeper than the bound,
/// found in one linear scan without recursion. Escapes, `\Q...\E` and character classes
/// (including `[:name:]` inside them) are skipped so their parentheses do not count.
std::optional<base::Error> prescan(std::string_view p, const Limits& limits) {
    int depth = 0;
    bool in_class = false;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\') {
            if (i + 1 >= p.size())
                return std::nullopt; // trailing backslash: RE2 reports it
            const char n = p[i + 1];
            if (n == 'C')
                return go_error("invalid escape sequence", "\\C");
            if (n == 'Q' && !in_class) {
                const auto end = p.find("\\E", i + 2);
                if (end == std::string_view::npos)
                    return std::nullopt; // literal to the end
                i = end + 1;
                continue;
            }
            ++i;
            continue;
        }
        if (in_class) {
            if (c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
                const auto end = p.find(":]", i + 2);
                if (end != std::string_view::npos)
                    i = end + 1;
            } else if (c == ']') {
                in_class = false;
            }
            continue;
        }
        if (c == '[') {
            in_class = true;
            std::size_t j = i + 1;
            if (j < p.size() && p[j] == '^')
                ++j;
            if (j < p.size() && p[j] == ']')
                ++j; // a leading ']' is a literal
            i = j - 1;
        } else if (c == '(') {
            if (++depth > limits.max_nesting)
                return go_error("expression nests too deeply", p);
        } else if (c == ')') {
            if (depth > 0)
                --depth;
        }
    }
    return std::nullopt;
}

} // namespace

base::Result<Regex> Regex::compile(std::string_view pattern, const Limits& limits) {
    if (pattern.size() > limits.max_pattern_bytes)
        return go_error("expression too large", pattern);
    if (auto e = prescan(pattern, limits))
        return *e;
    re2::RE2::Options opt;
    opt.set_log_errors(false);
    opt.set_max_mem(limits.max_mem);
    opt.set_encoding(re2::RE2::Options::EncodingUTF8);
    opt.set_never_capture(true); // only match/no-match is asked; Go's capture syntax still parses
    auto re = std::make_shared<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), opt);
    if (!re->ok())
        return go_error(go_code_text(re->error_code()), re->error_arg());
    return Regex(std::move(re));
}

bool Regex::search(std::string_view text) const {
    return re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

const std::string& Regex::pattern() const {
    return re_->pattern();
}

base::Result<Regex> compile_member_filter(std::string_view expr, const Limits& limits) {
    std::string anchored;
    anchored.reserve(expr.size() + 2);
    anchored.append("^").append(expr).append("$");
    auto r = Regex::compile(anchored, limits);
    if (!r.ok())
        return r.error().with_prefix("Failed to compile regex");
    return r;
}

bool query_filter_matches(std::string_view expr, std::string_view value) {
    auto r = Regex::compile(expr);
    return r.ok() && r->search(value);
}

} // namespace clusterd::regex
