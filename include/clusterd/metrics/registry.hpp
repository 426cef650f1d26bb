// Metric families (counters, gauges, fixed-bucket histograms) with label sets, a registry that
// keeps them in registration order, and their exposition: Prometheus text format 0.0.4,
// OpenMetrics 1.0 and statsd/statsite lines as go-metrics writes them. Pure: the agent reads
// its counters and clocks and feeds the figures in; nothing here touches a clock or a socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/latency.hpp"

namespace clusterd::metrics {

enum class Type : std::uint8_t { Counter, Gauge, Histogram };

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Longest label value kept (longer values are cut at a UTF-8 boundary).
inline constexpr std::size_t kMaxLabelValueBytes = 128;
/// The value that stands for every label value beyond a family's cap.
inline constexpr std::string_view kOtherLabelValue = "other";

/// True for a valid metric or label name ([a-zA-Z_][a-zA-Z0-9_]*; no ':' — reserved for rules).
bool valid_name(std::string_view name);
/// A label value as stored: invalid UTF-8 bytes become '?', cut to kMaxLabelValueBytes.
std::string clean_label_value(std::string_view v);

struct Series {
    std::vector<std::string> labels; ///< values, in the family's label-name order
    double value = 0;                ///< counter or gauge
    double source_last = 0;          ///< counters fed by sync(): the source's last total
    // histograms: per-bucket counts (not cumulative), one more than bounds (the +Inf bucket)
    std::vector<std::uint64_t> buckets;
    double sum = 0;
    std::uint64_t count = 0;
};

class Family {
  public:
    Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
           std::vector<double> bounds = {});

    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    Type type() const { return type_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    const std::vector<double>& bounds() const { return bounds_; } ///< histogram upper bounds, ascending

    /// The go-metrics key this family is pushed under to statsd/statsite, dot separated
    /// ("memberlist.msg.alive"); label values are appended as further parts. Default: the name
    /// with '_' as '.'. `scale` multiplies values on the way (seconds -> ms for timers).
    Family& statsd(std::string key, double scale = 1.0);
    const std::string& statsd_key() const { return statsd_key_; }
    /// Counters: also push the sum over every series under the bare key, as Serf sends both
    /// `serf.events` and `serf.events.<name>`.
    Family& statsd_total() {
        statsd_total_ = true;
        return *this;
    }
    bool statsd_total_wanted() const { return statsd_total_; }
    double statsd_scale() const { return statsd_scale_; }

    /// At most `max_values` distinct values of label `label` are kept; later new values are
    /// counted under "other". For labels whose values come from the network or from users.
    Family& cap(std::string_view label, std::size_t max_values);

    /// Counter: add `by` (negative or NaN amounts are ignored: counters never go down).
    void inc(const std::vector<std::string>& labels = {}, double by = 1);
    /// Counter: fold in a running total kept elsewhere. The counter moves by the source's growth
    /// since the last call; a source that went backwards (restarted) adds its whole new total.
    void sync(const std::vector<std::string>& labels, double total);
    void sync(double total) { sync({}, total); }
    /// Gauge: set.
    void set(const std::vector<std::string>& labels, double v);
    void set(double v) { set({}, v); }
    /// Histogram: one observation.
    void observe(const std::vector<std::string>& labels, double v);
    void observe(double v) { observe({}, v); }
    /// Histogram: take a base::LatencyHistogram's figures (its power-of-two microsecond buckets
    /// fold exactly into bounds that are powers of two microseconds; values in seconds).
    void set_latency(const std::vector<std::string>& labels, const base::LatencyHistogram& h);
    /// Gauges only: forget every series (for sets like "members by status" rebuilt each scrape).
    void clear_gauges();

    const std::map<std::vector<std::string>, Series>& series() const { return series_; }
    /// The series for these label values (created empty if new); nullptr for a wrong label count.
    Series* at(const std::vector<std::string>& labels);
    const Series* find(const std::vector<std::string>& labels) const;

  private:
    std::string name_, help_;
    Type type_;
    std::vector<std::string> label_names_;
    std::vector<double> bounds_;
    std::string statsd_key_;
    double statsd_scale_ = 1.0;
    bool statsd_total_ = false;
    std::map<std::size_t, std::size_t> caps_;                 ///< label index -> max values
    std::map<std::size_t, std::map<std::string, bool>> seen_; ///< label index -> values kept
    std::map<std::vector<std::string>, Series> series_;
};

class Registry {
  public:
    /// Names are validated (std::invalid_argument on a bad or duplicate name: a programming
    /// error). A counter's name has no "_total"; the exposition adds it.
    Family& counter(std::string name, std::string help, std::vector<std::string> labels = {});
    Family& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
    /// `bounds`: strictly ascending finite upper bounds (+Inf is implicit).
    Family& histogram(std::string name, std::string help, std::vector<double> bounds,
                      std::vector<std::string> labels = {});

    Family* find(std::string_view name);
    const std::vector<std::unique_ptr<Family>>& families() const { return families_; }

  private:
    Family& add(std::unique_ptr<Family> f);
    std::vector<std::unique_ptr<Family>> families_;
};

/// Bounds of `n` powers of two microseconds starting at 2^first_exp us, in seconds.
std::vector<double> power_of_two_bounds(int first_exp, int n);

/// Prometheus text exposition format 0.0.4.
std::string render_prometheus(const Registry& r);
/// OpenMetrics 1.0 text (ends with "# EOF").
std::string render_openmetrics(const Registry& r);
/// A number as both formats write it: integers without a fraction, +Inf, -Inf, NaN.
std::string format_value(double v);

// ---- statsd / statsite -------------------------------------------------------------------------

struct StatsdOptions {
    std::string prefix = "serf-agent"; ///< go-metrics ServiceName (Serf's agent uses "serf-agent")
    std::string hostname;              ///< inserted after the prefix in gauge keys ("" = none)
};

/// What has been pushed already, so that counters go out as increments (statsd counters are
/// deltas, as go-metrics' IncrCounter sends them).
struct StatsdState {
    std::map<std::string, double> counters;          ///< key -> total pushed so far
    std::map<std::string, std::uint64_t> hist_count; ///< key -> observations pushed so far
    std::map<std::string, double> hist_sum;
};

/// One line per series, "key:value|type\n" with go-metrics' "%f" values: counters as the
/// increment since the last push ("|c", omitted when zero), gauges ("|g"), histograms as one
/// timer sample ("|ms") of the mean of the observations since the last push (omitted when none).
/// Key parts: [prefix] [hostname, gauges only] key [label values]; ':' and ' ' become '_' as in
/// go-metrics, and any byte outside [A-Za-z0-9._-] too (label values come from users).
std::vector<std::string> encode_statsd(const Registry& r, const StatsdOptions& opts, StatsdState& state);
/// Lines packed into datagrams of at most `max_bytes` (go-metrics: 1400); a longer line alone.
std::vector<std::string> pack_datagrams(const std::vector<std::string>& lines, std::size_t max_bytes = 1400);

} // namespace clusterd::metrics
