// Version facts clusterd reports (`clusterd version`, RPC stats, alive Vsn fields).
#pragma once

namespace clusterd::base {

inline constexpr const char* kVersion = "0.1.0";
/// Serf agent (delegate) protocol versions spoken: the same range as Serf 0.8.x.
inline constexpr int kSerfProtocolMin = 2;
inline constexpr int kSerfProtocolMax = 5;
/// memberlist protocol versions understood and the one spoken by default.
inline constexpr int kMemberlistProtocolMin = 1;
inline constexpr int kMemberlistProtocolMax = 5;
inline constexpr int kMemberlistProtocolDefault = 2;

} // namespace clusterd::base
