// Version facts clusterd reports (`clusterd version`, RPC stats, alive Vsn fields).
#pragma once

namespace clusterd::base {

/// The project version, from `project(clusterd VERSION ...)` in the top CMakeLists.txt, the one
/// place it is written (debian/changelog must carry the same upstream version; debian/rules
/// checks). Compiled into src/base/version.cpp alone, so a version bump rebuilds one file.
const char* version();
/// Serf agent (delegate) protocol versions spoken: the same range as Serf 0.8.x.
inline constexpr int kSerfProtocolMin = 2;
inline constexpr int kSerfProtocolMax = 5;
/// memberlist protocol versions understood and the one spoken by default.
inline constexpr int kMemberlistProtocolMin = 1;
inline constexpr int kMemberlistProtocolMax = 5;
inline constexpr int kMemberlistProtocolDefault = 2;

} // namespace clusterd::base
