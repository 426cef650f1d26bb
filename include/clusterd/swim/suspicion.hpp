// swim::Suspicion: the Lifeguard suspicion timer of one suspected node (memberlist
// suspicion.go). It starts at `max` (or `min` when no confirmations are expected, k < 1) and
// shrinks toward `min` as independent suspect messages from other members confirm it.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "clusterd/base/time.hpp"

namespace clusterd::swim {

class Suspicion {
  public:
    /// `incarnation`: the suspected incarnation (the endpoint declares the node dead only if it
    /// is still suspect at that incarnation when the timer fires).
    Suspicion(const std::string& from, int k, base::Duration min, base::Duration max, base::Instant start,
              std::uint32_t incarnation = 0);

    /// Records a confirmation from `from`. True when it was new and counted (so the suspect
    /// message is worth re-broadcasting); false for duplicates or once k is reached.
    bool confirm(const std::string& from);

    /// When the node must be declared dead.
    base::Instant deadline() const { return deadline_; }
    int confirmations() const { return n_; }
    int expected() const { return k_; }
    base::Instant start() const { return start_; }
    std::uint32_t incarnation() const { return incarnation_; }

    // Recheck before death (Config::recheck_suspects): the endpoint pings the node once more
    // shortly before the deadline; an ack from it since the suspicion began is evidence of life.
    int rechecks() const { return rechecks_; }
    void add_recheck() { ++rechecks_; }
    void note_ack() { acked_ = true; }
    bool acked() const { return acked_; }
    /// How many times this suspicion was started again on evidence of life.
    int renewals() const { return renewals_; }
    void set_renewals(int r) { renewals_ = r; }

  private:
    int n_ = 0;
    int k_;
    base::Duration min_;
    base::Duration max_;
    base::Instant start_;
    base::Instant deadline_;
    std::uint32_t incarnation_;
    int rechecks_ = 0;
    bool acked_ = false;
    int renewals_ = 0;
    std::set<std::string> seen_;
};

} // namespace clusterd::swim
