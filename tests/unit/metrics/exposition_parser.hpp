// A strict parser for the Prometheus 0.0.4 and OpenMetrics 1.0 text formats as clusterd writes
// them, for tests: every line must be HELP, TYPE, a sample of the current family, or (OpenMetrics)
// the final "# EOF". It checks label syntax and escapes, metadata order, sample names per type,
// histogram buckets (ascending le, non-decreasing counts, +Inf equal to _count, _sum present).
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace clusterd::testing {

struct ParsedSample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

struct ParsedFamily {
    std::string name; ///< as on the TYPE line
    std::string type;
    std::string help;
    std::vector<ParsedSample> samples;
};

struct ParsedExposition {
    std::vector<ParsedFamily> families;
    const ParsedFamily* family(const std::string& n) const {
        for (const auto& f : families)
            if (f.name == n)
                return &f;
        return nullptr;
    }
    /// The value of the sample `name` with exactly these labels (NaN if absent).
    double value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
        for (const auto& f : families)
            for (const auto& s : f.samples)
                if (s.name == name && s.labels == labels)
                    return s.value;
        return std::nan("");
    }
};

inline double parse_number(const std::string& t) {
    if (t == "+Inf" || t == "Inf")
        return INFINITY;
    if (t == "-Inf")
        return -INFINITY;
    if (t == "NaN")
        return NAN;
    if (t.empty())
        throw std::runtime_error("empty number");
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (end != t.c_str() + t.size())
        throw std::runtime_error("bad number '" + t + "'");
    return v;
}

inline bool metric_name_ok(const std::string& n) {
    if (n.empty())
        return false;
    for (std::size_t i = 0; i < n.size(); ++i) {
        char c = n[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

/// Throws std::runtime_error naming the line on any deviation.
inline ParsedExposition parse_exposition(const std::string& text, bool openmetrics) {
    ParsedExposition out;
    std::set<std::string> seen_families;
    std::size_t pos = 0;
    int line_no = 0;
    bool eof = false;
    ParsedFamily* cur = nullptr;
    bool have_help = false;
    if (text.empty() || text.back() != '\n')
        throw std::runtime_error("text must end with a newline");
    auto fail = [&](const std::string& why, const std::string& line) {
        throw std::runtime_error("line " + std::to_string(line_no) + ": " + why + ": " + line);
    };
    auto unescape = [&](const std::string& s, bool allow_quote, const std::string& line) {
        std::string r;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (s[i] != '\\') {
                r += s[i];
                continue;
            }
            if (++i >= s.size())
                fail("dangling backslash", line);
            if (s[i] == '\\')
                r += '\\';
            else if (s[i] == 'n')
                r += '\n';
            else if (s[i] == '"' && allow_quote)
                r += '"';
            else
                fail("bad escape", line);
        }
        return r;
    };
    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        const std::string line = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (eof)
            fail("content after # EOF", line);
        if (line.empty())
            fail(openmetrics ? "empty line" : "empty line (we never write one)", line);
        if (line == "# EOF") {
            if (!openmetrics)
                fail("# EOF in Prometheus text", line);
            eof = true;
            continue;
        }
        if (line.rfind("# HELP ", 0) == 0) {
            const std::string rest = line.substr(7);
            const auto sp = rest.find(' ');
            if (sp == std::string::npos)
                fail("HELP without text", line);
            const std::string name = rest.substr(0, sp);
            if (!metric_name_ok(name))
                fail("bad name", line);
            if (seen_families.count(name))
                fail("family repeated", line);
            seen_families.insert(name);
            out.families.push_back(
                ParsedFamily{name, "", unescape(rest.substr(sp + 1), openmetrics, line), {}});
            cur = &out.families.back();
            have_help = true;
            continue;
        }
        if (line.rfind("# TYPE ", 0) == 0) {
            const std::string rest = line.substr(7);
            const auto sp = rest.find(' ');
            if (sp == std::string::npos || !have_help || !cur || cur->name != rest.substr(0, sp) ||
                !cur->type.empty())
                fail("TYPE must follow the family's HELP, once", line);
            cur->type = rest.substr(sp + 1);
            if (cur->type != "counter" && cur->type != "gauge" && cur->type != "histogram")
                fail("unknown type", line);
            if (openmetrics && cur->type == "counter" && cur->name.size() > 6 &&
                cur->name.compare(cur->name.size() - 6, 6, "_total") == 0)
                fail("OpenMetrics counter family named with _total", line);
            have_help = false;
            continue;
        }
        if (line[0] == '#')
            fail("unexpected comment", line);
        if (!cur || cur->type.empty())
            fail("sample before TYPE", line);
        // name{labels} value
        ParsedSample s;
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ')
            ++i;
        s.name = line.substr(0, i);
        if (!metric_name_ok(s.name))
            fail("bad sample name", line);
        if (i < line.size() && line[i] == '{') {
            ++i;
            bool first = true;
            while (true) {
                if (i >= line.size())
                    fail("unterminated labels", line);
                if (line[i] == '}') {
                    ++i;
                    break;
                }
                if (!first) {
                    if (line[i] != ',')
                        fail("expected ','", line);
                    ++i;
                }
                first = false;
                std::size_t eq = line.find('=', i);
                if (eq == std::string::npos)
                    fail("label without '='", line);
                std::string lname = line.substr(i, eq - i);
                if (!metric_name_ok(lname) || lname.find(':') != std::string::npos)
                    fail("bad label name", line);
                i = eq + 1;
                if (i >= line.size() || line[i] != '"')
                    fail("label value not quoted", line);
                ++i;
                std::string raw;
                while (i < line.size() && line[i] != '"') {
                    if (line[i] == '\\' && i + 1 < line.size()) {
                        raw += line[i];
                        ++i;
                    }
                    raw += line[i];
                    ++i;
                }
                if (i >= line.size())
                    fail("unterminated label value", line);
                ++i;
                if (s.labels.count(lname))
                    fail("label repeated", line);
                s.labels[lname] = unescape(raw, true, line);
            }
        }
        if (i >= line.size() || line[i] != ' ')
            fail("expected one space before the value", line);
        const std::string value = line.substr(i + 1);
        if (value.find(' ') != std::string::npos)
            fail("timestamps or extra fields are not expected", line);
        try {
            s.value = parse_number(value);
        } catch (const std::exception& e) {
            fail(e.what(), line);
        }
        // sample names per type
        const std::string& fam = cur->name;
        if (cur->type == "counter") {
            const std::string want = openmetrics ? fam + "_total" : fam;
            if (s.name != want)
                fail("counter sample must be " + want, line);
            if (!openmetrics && (fam.size() < 6 || fam.compare(fam.size() - 6, 6, "_total") != 0))
                fail("counter without _total", line);
            if (s.value < 0 || std::isnan(s.value))
                fail("negative counter", line);
        } else if (cur->type == "gauge") {
            if (s.name != fam)
                fail("gauge sample must be the family name", line);
        } else {
            if (s.name != fam + "_bucket" && s.name != fam + "_sum" && s.name != fam + "_count")
                fail("histogram sample must be _bucket, _sum or _count", line);
            if (s.name == fam + "_bucket" && !s.labels.count("le"))
                fail("bucket without le", line);
            if (s.name != fam + "_bucket" && s.labels.count("le"))
                fail("le outside a bucket", line);
        }
        cur->samples.push_back(std::move(s));
    }
    if (openmetrics && !eof)
        throw std::runtime_error("OpenMetrics text must end with # EOF");
    // histogram checks per label set
    for (const auto& f : out.families) {
        if (f.type != "histogram")
            continue;
        std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
        std::map<std::map<std::string, std::string>, double> count, sum;
        for (const auto& s : f.samples) {
            auto key = s.labels;
            key.erase("le");
            if (s.name == f.name + "_bucket")
                buckets[key].emplace_back(parse_number(s.labels.at("le")), s.value);
            else if (s.name == f.name + "_count")
                count[key] = s.value;
            else
                sum[key] = s.value;
        }
        for (const auto& [key, b] : buckets) {
            for (std::size_t k = 1; k < b.size(); ++k) {
                if (!(b[k].first > b[k - 1].first))
                    throw std::runtime_error(f.name + ": le not ascending");
                if (b[k].second < b[k - 1].second)
                    throw std::runtime_error(f.name + ": bucket counts decrease");
            }
            if (b.empty() || !std::isinf(b.back().first))
                throw std::runtime_error(f.name + ": no +Inf bucket");
            if (!count.count(key) || count.at(key) != b.back().second)
                throw std::runtime_error(f.name + ": _count differs from the +Inf bucket");
            if (!sum.count(key))
                throw std::runtime_error(f.name + ": no _sum");
        }
        if (buckets.size() != count.size() || buckets.size() != sum.size())
            throw std::runtime_error(f.name + ": _sum/_count without buckets");
    }
    return out;
}

} // namespace clusterd::testing
