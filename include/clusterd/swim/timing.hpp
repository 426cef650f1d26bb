// memberlist's scaling formulas (util.go, suspicion.go) as pure functions: suspicion timeout,
// retransmit limit, push-pull interval scale and the Lifeguard remaining-suspicion curve.
#pragma once

#include "clusterd/base/time.hpp"

namespace clusterd::swim {

/// SuspicionMult × max(1, log10(max(1, n))) × interval, with Go's millisecond-scale truncation.
base::Duration suspicion_timeout(int suspicion_mult, std::size_t n, base::Duration interval);
/// RetransmitMult × ceil(log10(n + 1)).
int retransmit_limit(int retransmit_mult, std::size_t n);
/// interval, or interval × (ceil(log2 n − log2 32) + 1) above 32 nodes.
base::Duration push_pull_scale(base::Duration interval, std::size_t n);
/// Total suspicion timeout after `n` of `k` expected confirmations: max − log(n+1)/log(k+1) ×
/// (max − min), floored to whole milliseconds, never below min.
base::Duration suspicion_total(int n, int k, base::Duration min, base::Duration max);

} // namespace clusterd::swim
