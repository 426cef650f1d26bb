#include "clusterd/metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace clusterd::metrics {

namespace {

bool name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_len(std::string_view s, std::size_t i) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (b < 0x80)
        return 1;
    if ((b & 0xE0) == 0xC0) {
        n = 2;
        cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
        n = 3;
        cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
        n = 4;
        cp = b & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size())
        return 0;
    for (std::size_t k = 1; k < n; ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (c & 0x3F);
    }
    // overlong forms, surrogates and values past U+10FFFF are invalid
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void escape_into(std::string& out, std::string_view v, bool quote) {
    for (char c : v) {
        switch (c) {
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '"':
            if (quote) {
                out += "\\\"";
                break;
            }
            out += c;
            break;
        default:
            out += c;
        }
    }
}

std::string format_le(double b) {
    std::string s = format_value(b);
    if (s.find_first_of(".eIN") == std::string::npos)
        s += ".0";
    return s;
}

/// name{l="v",...[,extra="x"]} value\n
void sample(std::string& out, const std::string& name, const std::vector<std::string>& names,
            const std::vector<std::string>& values, const char* extra_name, const std::string& extra_value,
            const std::string& value) {
    out += name;
    if (!names.empty() || extra_name) {
        out += '{';
        bool first = true;
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (!first)
                out += ',';
            first = false;
            out += names[i];
            out += "=\"";
            escape_into(out, values[i], true);
            out += '"';
        }
        if (extra_name) {
            if (!first)
                out += ',';
            out += extra_name;
            out += "=\"";
            out += extra_value;
            out += '"';
        }
        out += '}';
    }
    out += ' ';
    out += value;
    out += '\n';
}

std::string render(const Registry& r, bool om) {
    std::string out;
    out.reserve(8192);
    for (const auto& fp : r.families()) {
        const Family& f = *fp;
        const bool counter = f.type() == Type::Counter;
        const std::string sample_name = counter ? f.name() + "_total" : f.name();
        const std::string& meta_name = (counter && !om) ? sample_name : f.name();
        const char* type = counter ? "counter" : f.type() == Type::Gauge ? "gauge" : "histogram";
        out += "# HELP ";
        out += meta_name;
        out += ' ';
        escape_into(out, f.help(), om);
        out += "\n# TYPE ";
        out += meta_name;
        out += ' ';
        out += type;
        out += '\n';
        for (const auto& [key, s] : f.series()) {
            if (f.type() != Type::Histogram) {
                sample(out, sample_name, f.label_names(), s.labels, nullptr, {}, format_value(s.value));
                continue;
            }
            std::uint64_t cum = 0;
            const std::string bucket = f.name() + "_bucket";
            for (std::size_t i = 0; i < f.bounds().size(); ++i) {
                cum += s.buckets[i];
                sample(out, bucket, f.label_names(), s.labels, "le", format_le(f.bounds()[i]),
                       std::to_string(cum));
            }
            cum += s.buckets.back();
            sample(out, bucket, f.label_names(), s.labels, "le", "+Inf", std::to_string(cum));
            sample(out, f.name() + "_sum", f.label_names(), s.labels, nullptr, {}, format_value(s.sum));
            sample(out, f.name() + "_count", f.label_names(), s.labels, nullptr, {}, std::to_string(s.count));
        }
    }
    if (om)
        out += "# EOF\n";
    return out;
}

std::string fixed6(double v) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 6);
    if (res.ec != std::errc{})
        return "0.000000";
    return std::string(buf, res.ptr);
}

void key_part(std::string& out, std::string_view part) {
    if (part.empty())
        return;
    if (!out.empty())
        out += '.';
    for (char c : part) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == '-';
        out += ok ? c : '_';
    }
}

} // namespace

bool valid_name(std::string_view name) {
    if (name.empty())
        return false;
    for (std::size_t i = 0; i < name.size(); ++i)
        if (!name_char(name[i], i == 0))
            return false;
    return true;
}

std::string clean_label_value(std::string_view v) {
    std::string out;
    out.reserve(std::min(v.size(), kMaxLabelValueBytes));
    std::size_t i = 0;
    while (i < v.size()) {
        std::size_t n = utf8_len(v, i);
        if (out.size() + std::max<std::size_t>(n, 1) > kMaxLabelValueBytes)
            break;
        if (n == 0) {
            out += '?';
            ++i;
        } else {
            out.append(v.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::string format_value(double v) {
    if (std::isnan(v))
        return "NaN";
    if (std::isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    if (v == std::trunc(v) && std::fabs(v) < 1e15) {
        auto res = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
        return std::string(buf, res.ptr);
    }
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, res.ptr);
}

std::vector<double> power_of_two_bounds(int first_exp, int n) {
    std::vector<double> b;
    for (int i = 0; i < n; ++i)
        b.push_back(std::ldexp(1.0, first_exp + i) / 1e6);
    return b;
}

// ---- Family ------------------------------------------------------------------------------------

Family::Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
               std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {
    statsd_key_ = name_;
    std::replace(statsd_key_.begin(), statsd_key_.end(), '_', '.');
}

Family& Family::statsd(std::string key, double scale) {
    statsd_key_ = std::move(key);
    statsd_scale_ = scale;
    return *this;
}

Family& Family::cap(std::string_view label, std::size_t max_values) {
    for (std::size_t i = 0; i < label_names_.size(); ++i)
        if (label_names_[i] == label)
            caps_[i] = max_values;
    return *this;
}

Series* Family::at(const std::vector<std::string>& labels) {
    if (labels.size() != label_names_.size())
        return nullptr;
    std::vector<std::string> key;
    key.reserve(labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i) {
        std::string v = clean_label_value(labels[i]);
        if (auto c = caps_.find(i); c != caps_.end() && v != kOtherLabelValue) {
            auto& seen = seen_[i];
            if (!seen.count(v)) {
                if (seen.size() >= c->second)
                    v = std::string(kOtherLabelValue);
                else
                    seen.emplace(v, true);
            }
        }
        key.push_back(std::move(v));
    }
    auto it = series_.find(key);
    if (it == series_.end()) {
        Series s;
        s.labels = key;
        if (type_ == Type::Histogram)
            s.buckets.assign(bounds_.size() + 1, 0);
        it = series_.emplace(std::move(key), std::move(s)).first;
    }
    return &it->second;
}

const Series* Family::find(const std::vector<std::string>& labels) const {
    auto it = series_.find(labels);
    return it == series_.end() ? nullptr : &it->second;
}

void Family::inc(const std::vector<std::string>& labels, double by) {
    if (type_ != Type::Counter || !(by >= 0))
        return;
    if (Series* s = at(labels))
        s->value += by;
}

void Family::sync(const std::vector<std::string>& labels, double total) {
    if (type_ != Type::Counter || !(total >= 0))
        return;
    Series* s = at(labels);
    if (!s)
        return;
    // One source per series: the caller folds sources that share a series (capped labels)
    // into one total first.
    if (total >= s->source_last)
        s->value += total - s->source_last;
    else
        s->value += total;
    s->source_last = total;
}

void Family::set(const std::vector<std::string>& labels, double v) {
    if (type_ != Type::Gauge)
        return;
    if (Series* s = at(labels))
        s->value = v;
}

void Family::observe(const std::vector<std::string>& labels, double v) {
    if (type_ != Type::Histogram || std::isnan(v))
        return;
    Series* s = at(labels);
    if (!s)
        return;
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
    ++s->buckets[static_cast<std::size_t>(it - bounds_.begin())];
    s->sum += v;
    ++s->count;
}

void Family::set_latency(const std::vector<std::string>& labels, const base::LatencyHistogram& h) {
    if (type_ != Type::Histogram)
        return;
    Series* s = at(labels);
    if (!s)
        return;
    s->buckets.assign(bounds_.size() + 1, 0);
    for (std::size_t i = 0; i < base::LatencyHistogram::kBuckets; ++i) {
        const std::uint64_t n = h.bucket(i);
        if (n == 0)
            continue;
        // bucket i holds values below 2^i us: the first bound at or above that
        const double upper = std::ldexp(1.0, static_cast<int>(i)) / 1e6;
        const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), upper * (1 - 1e-12));
        s->buckets[static_cast<std::size_t>(it - bounds_.begin())] += n;
    }
    s->count = h.count();
    s->sum = static_cast<double>(h.sum_us()) / 1e6;
}

void Family::clear_gauges() {
    if (type_ == Type::Gauge)
        series_.clear();
}

// ---- Registry ----------------------------------------------------------------------------------

Family& Registry::add(std::unique_ptr<Family> f) {
    if (!valid_name(f->name()))
        throw std::invalid_argument("bad metric name '" + f->name() + "'");
    if (find(f->name()))
        throw std::invalid_argument("duplicate metric name '" + f->name() + "'");
    for (const auto& l : f->label_names())
        if (!valid_name(l) || l.rfind("__", 0) == 0 || (f->type() == Type::Histogram && l == "le"))
            throw std::invalid_argument("bad label name '" + l + "' in " + f->name());
    if (f->type() == Type::Counter && f->name().size() >= 6 &&
        f->name().compare(f->name().size() - 6, 6, "_total") == 0)
        throw std::invalid_argument("counter names carry no _total: " + f->name());
    for (std::size_t i = 0; i < f->bounds().size(); ++i)
        if (!std::isfinite(f->bounds()[i]) || (i > 0 && f->bounds()[i] <= f->bounds()[i - 1]))
            throw std::invalid_argument("histogram bounds must be finite and ascending: " + f->name());
    families_.push_back(std::move(f));
    return *families_.back();
}

Family& Registry::counter(std::string name, std::string help, std::vector<std::string> labels) {
    return add(std::make_unique<Family>(std::move(name), std::move(help), Type::Counter, std::move(labels)));
}

Family& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
    return add(std::make_unique<Family>(std::move(name), std::move(help), Type::Gauge, std::move(labels)));
}

Family& Registry::histogram(std::string name, std::string help, std::vector<double> bounds,
                            std::vector<std::string> labels) {
    return add(std::make_unique<Family>(std::move(name), std::move(help), Type::Histogram, std::move(labels),
                                        std::move(bounds)));
}

Family* Registry::find(std::string_view name) {
    for (auto& f : families_)
        if (f->name() == name)
            return f.get();
    return nullptr;
}

// ---- exposition ---------------------------------------------------------------------------------

std::string render_prometheus(const Registry& r) {
    return render(r, false);
}
std::string render_openmetrics(const Registry& r) {
    return render(r, true);
}

std::vector<std::string> encode_statsd(const Registry& r, const StatsdOptions& opts, StatsdState& state) {
    std::vector<std::string> lines;
    for (const auto& fp : r.families()) {
        const Family& f = *fp;
        if (f.type() == Type::Counter && f.statsd_total_wanted() && !f.series().empty()) {
            std::string key;
            key_part(key, opts.prefix);
            key_part(key, f.statsd_key());
            double total = 0;
            for (const auto& [labels, s] : f.series())
                total += s.value * f.statsd_scale();
            double& pushed = state.counters[key + "\n"]; // apart from a series of that key
            if (total > pushed)
                lines.push_back(key + ":" + fixed6(total - pushed) + "|c\n");
            pushed = total;
        }
        for (const auto& [labels, s] : f.series()) {
            std::string key;
            key_part(key, opts.prefix);
            if (f.type() == Type::Gauge)
                key_part(key, opts.hostname);
            key_part(key, f.statsd_key());
            for (const auto& v : labels)
                key_part(key, v);
            const double scale = f.statsd_scale();
            switch (f.type()) {
            case Type::Counter: {
                const double total = s.value * scale;
                double& pushed = state.counters[key];
                if (total > pushed)
                    lines.push_back(key + ":" + fixed6(total - pushed) + "|c\n");
                pushed = total;
                break;
            }
            case Type::Gauge:
                lines.push_back(key + ":" + fixed6(s.value * scale) + "|g\n");
                break;
            case Type::Histogram: {
                std::uint64_t& n = state.hist_count[key];
                double& sum = state.hist_sum[key];
                if (s.count > n) {
                    const double mean = (s.sum - sum) / static_cast<double>(s.count - n);
                    lines.push_back(key + ":" + fixed6(mean * scale) + "|ms\n");
                }
                n = s.count;
                sum = s.sum;
                break;
            }
            }
        }
    }
    return lines;
}

std::vector<std::string> pack_datagrams(const std::vector<std::string>& lines, std::size_t max_bytes) {
    std::vector<std::string> out;
    std::string cur;
    for (const auto& l : lines) {
        if (!cur.empty() && cur.size() + l.size() > max_bytes) {
            out.push_back(std::move(cur));
            cur.clear();
        }
        cur += l;
    }
    if (!cur.empty())
        out.push_back(std::move(cur));
    return out;
}

} // namespace clusterd::metrics
