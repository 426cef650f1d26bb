// clusterd::regex: Go's regexp semantics and error texts on RE2, Serf's anchoring, and bounded
// behaviour on hostile patterns. The error texts below are what serf 0.9.4's agent (Go 1.19)
// logs for the same member filters; tests/interop/regex_interop_test.cpp compares live.
#include "clusterd/regex/regex.hpp"

#include <gtest/gtest.h>
#include <string>

using namespace clusterd;

namespace {

std::string member_filter_error(const std::string& expr) {
    auto r = regex::compile_member_filter(expr);
    return r.ok() ? std::string("(compiled)") : r.error().message;
}

bool member_match(const std::string& expr, const std::string& text) {
    auto r = regex::compile_member_filter(expr);
    EXPECT_TRUE(r.ok()) << expr;
    return r.ok() && r->search(text);
}

} // namespace

TEST(Regex, GoErrorTextsForMemberFilters) {
    const std::pair<const char*, const char*> cases[] = {
        {"(abc", "missing closing ): `^(abc$`"},
        {"a)", "unexpected ): `^a)$`"},
        {"[abc", "missing closing ]: `[abc$`"},
        {"\\q", "invalid escape sequence: `\\q`"},
        {"a**", "invalid nested repetition operator: `**`"},
        {"a++", "invalid nested repetition operator: `++`"},
        {"a{1001}", "invalid repeat count: `{1001}`"},
        {"a{2,1}", "invalid repeat count: `{2,1}`"},
        {"(?<n>a)", "invalid or unsupported Perl syntax: `(?<`"},
        {"(?z)", "invalid or unsupported Perl syntax: `(?z`"},
        {"[z-a]", "invalid character class range: `z-a`"},
        {"[[:foo:]]", "invalid character class range: `[:foo:]`"},
        {"\\p{Foo}", "invalid character class range: `\\p{Foo}`"},
        {"(?P<>a)", "invalid named capture: `(?P<>`"},
        {"\\C", "invalid escape sequence: `\\C`"},
        {"\\8", "invalid escape sequence: `\\8`"},
        {"\\Z", "invalid escape sequence: `\\Z`"},
    };
    for (const auto& [expr, want] : cases)
        EXPECT_EQ(member_filter_error(expr),
                  std::string("Failed to compile regex: error parsing regexp: ") + want)
            << expr;
}

TEST(Regex, AcceptedAsGoAcceptsThem) {
    for (const char* expr : {"*abc", "abc\\", "\\pN", "a*?", "(?i)S1", "(?P<n>s)1", "\\Qa.b\\E", "[]a]",
                             "[^]a]", "[[:alpha:]]+", "(?s).", "(?U)a+", "x{0,1000}", "\\z", "\\A"})
        EXPECT_EQ(member_filter_error(expr), "(compiled)") << expr;
}

TEST(Regex, SerfAnchoringOfMemberFilters) {
    EXPECT_TRUE(member_match("web", "web"));
    EXPECT_FALSE(member_match("web", "web-1"));
    EXPECT_FALSE(member_match("web", "a-web"));
    EXPECT_TRUE(member_match("web.*", "web-1"));
    // ^a|b$: "starts with a" or "ends with b", exactly as Serf's fmt.Sprintf("^%s$").
    EXPECT_TRUE(member_match("a|b", "axx"));
    EXPECT_TRUE(member_match("a|b", "xxb"));
    EXPECT_FALSE(member_match("a|b", "xbx"));
    EXPECT_TRUE(member_match("(?i)WEB-\\d", "web-7"));
    // $ is the end of the text only (Go and RE2, unlike Perl's "before a final newline").
    EXPECT_FALSE(member_match("web", "web\n"));
    // UTF-8: one character.
    EXPECT_TRUE(member_match("n.de", "n\xc3\xb6"
                                     "de"));
    // A missing tag is the empty value: "" and ".*" match it.
    EXPECT_TRUE(member_match("", ""));
    EXPECT_TRUE(member_match(".*", ""));
}

TEST(Regex, QueryFiltersAreUnanchoredAndBadOnesMatchNothing) {
    EXPECT_TRUE(regex::query_filter_matches("eb", "web-1"));
    EXPECT_TRUE(regex::query_filter_matches("^web-[0-9]$", "web-1"));
    EXPECT_FALSE(regex::query_filter_matches("^db", "web-1"));
    EXPECT_TRUE(regex::query_filter_matches("", "anything"));
    EXPECT_FALSE(regex::query_filter_matches("(", "("));
    EXPECT_FALSE(regex::query_filter_matches("\\C", "x"));
}

TEST(Regex, HugePatternIsRefused) {
    const std::string big(100 * 1024, 'a');
    auto r = regex::Regex::compile(big);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message.rfind("error parsing regexp: expression too large: `aaaa", 0), 0u)
        << r.error().message;
    EXPECT_LT(r.error().message.size(), 200u);
    EXPECT_FALSE(regex::query_filter_matches(big, big));
}

TEST(Regex, DeepNestingIsRefusedWithoutRecursion) {
    std::string deep;
    for (int i = 0; i < 10000; ++i)
        deep += '(';
    deep += 'a';
    for (int i = 0; i < 10000; ++i)
        deep += ')';
    auto r = regex::compile_member_filter(deep);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("expression nests too deeply"), std::string::npos)
        << r.error().message.substr(0, 100);
    // Without our bound RE2 itself (explicit stacks, no recursion) still copes: compiled or
    // refused, never a crash of the event loop's stack.
    regex::Limits loose;
    loose.max_nesting = 1 << 20;
    auto raw = regex::Regex::compile(deep, loose);
    if (raw.ok()) {
        EXPECT_TRUE(raw->search("a"));
    }
    // Unbalanced, in classes and escapes: parentheses there do not count.
    std::string classes;
    for (int i = 0; i < 3000; ++i)
        classes += "[(]";
    EXPECT_TRUE(regex::Regex::compile(classes).ok());
    std::string escaped;
    for (int i = 0; i < 3000; ++i)
        escaped += "\\(";
    EXPECT_TRUE(regex::Regex::compile(escaped).ok());
    // Just under the bound compiles and runs.
    std::string ok_deep = std::string(500, '(') + "a" + std::string(500, ')');
    auto ok = regex::Regex::compile(ok_deep);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_TRUE(ok->search("xa"));
}

TEST(Regex, MemoryBoundRefusesExplodingPrograms) {
    // Each x{1000} of x{1000} expands to a million instructions: over max_mem, refused with
    // Go's "expression too large" text (Go refuses it the same way).
    auto r = regex::Regex::compile("((((x{1000}){1000}){1000}){1000})");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("error parsing regexp:"), std::string::npos) << r.error().message;
    // A big but legal program still runs in linear time over a long text.
    auto ok = regex::Regex::compile("(a|aa)*b");
    ASSERT_TRUE(ok.ok());
    EXPECT_FALSE(ok->search(std::string(200000, 'a')));
}
