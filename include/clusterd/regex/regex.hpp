// clusterd::regex: Go's `regexp` semantics on RE2 (libre2), the engine whose syntax Go follows.
// One small interface so the pure serf core (query filters) and the RPC session (member
// filters) match patterns the same way without seeing RE2 itself (a private dependency here).
//
// Compiling never recurses on the pattern's structure, memory is bounded by `Limits`, and an
// expression RE2 (or Go) rejects yields Go's error text:
//   error parsing regexp: missing closing ): `^(abc$`
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "clusterd/base/result.hpp"

namespace re2 {
class RE2;
}

namespace clusterd::regex {

struct Limits {
    /// Longer patterns are refused ("expression too large") before RE2 sees them.
    std::size_t max_pattern_bytes = 64 * 1024;
    /// Deeper group nesting is refused ("expression nests too deeply"), as Go 1.19+ refuses
    /// trees higher than 1000.
    int max_nesting = 1000;
    /// RE2's budget for the compiled program and its DFA caches (RE2::Options::max_mem).
    std::int64_t max_mem = 2 << 20;
};

/// A compiled expression. Cheap to copy (shared, immutable); safe to use from one thread.
class Regex {
  public:
    /// Go's regexp.Compile: Perl-like RE2 syntax, UTF-8, leftmost-first. Errors carry Go's
    /// message ("error parsing regexp: <what>: `<where>`"), code "bad_regexp".
    static base::Result<Regex> compile(std::string_view pattern, const Limits& limits = {});

    /// Go's (*Regexp).MatchString: whether the expression matches anywhere in `text`.
    bool search(std::string_view text) const;

    const std::string& pattern() const;

  private:
    explicit Regex(std::shared_ptr<const re2::RE2> re) : re_(std::move(re)) {}
    std::shared_ptr<const re2::RE2> re_;
};

/// Serf's member filters (`members -name/-status/-tag`): the expression compiled as
/// "^" + expr + "$" (so `a|b` reads `^a|b$`, as Serf does) and searched. Errors carry the text
/// Serf's agent reports: "Failed to compile regex: error parsing regexp: ...".
base::Result<Regex> compile_member_filter(std::string_view expr, const Limits& limits = {});

/// Serf's query tag filters (regexp.MatchString(expr, value)): unanchored; a pattern that does
/// not compile matches nothing (Serf logs and drops the query).
bool query_filter_matches(std::string_view expr, std::string_view value);

} // namespace clusterd::regex
