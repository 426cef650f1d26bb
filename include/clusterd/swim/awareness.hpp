// swim::Awareness: Lifeguard's local health score (memberlist awareness.go). 0 is healthy; the
// score stays in [0, max-1] and multiplies probe interval and timeout by (score + 1).
#pragma once

#include "clusterd/base/time.hpp"

namespace clusterd::swim {

class Awareness {
  public:
    explicit Awareness(int max_multiplier) : max_(max_multiplier < 1 ? 1 : max_multiplier) {}

    void apply_delta(int delta) {
        score_ += delta;
        if (score_ < 0)
            score_ = 0;
        if (score_ > max_ - 1)
            score_ = max_ - 1;
    }
    int score() const { return score_; }
    base::Duration scale(base::Duration d) const { return d * (score_ + 1); }

  private:
    int max_;
    int score_ = 0;
};

} // namespace clusterd::swim
