// Snapshot RECORDS in Serf's text format, without any file IO (the agent owns the file):
//   alive: <name> <ip:port> | not-alive: <name> | clock: N | event-clock: N | query-clock: N
//   | leave | # comment        (legacy "coordinate: ..." lines are ignored)
// SnapshotState replays a file's text; SnapshotRecorder produces the lines to append as things
// happen and says when the file should be compacted (size > max(128 KiB, alive*128*2)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/serf/event.hpp"
#include "clusterd/serf/lamport.hpp"

namespace clusterd::serf {

inline constexpr std::size_t kSnapshotMinCompactSize = 128 * 1024;
inline constexpr std::size_t kSnapshotBytesPerNode = 128;
inline constexpr std::size_t kSnapshotCompactionThreshold = 2;

struct PreviousNode {
    std::string name;
    std::string addr; ///< "ip:port"
    friend bool operator==(const PreviousNode&, const PreviousNode&) = default;
};

/// What a snapshot file says after replaying it.
struct SnapshotState {
    std::map<std::string, std::string> alive_nodes; ///< name -> "ip:port"
    LamportTime last_clock = 0;
    LamportTime last_event_clock = 0;
    LamportTime last_query_clock = 0;
    std::size_t unrecognized_lines = 0; ///< malformed or unknown lines (skipped)
    bool saw_leave = false;             ///< a "leave" line was seen (and applied unless rejoin)

    /// Replays a whole file. A final line without '\n' is ignored (a torn write), as Serf does.
    /// `leave` wipes the state unless `rejoin_after_leave`.
    static SnapshotState replay(std::string_view text, bool rejoin_after_leave);
    /// Applies one line (without its newline).
    void apply_line(std::string_view line, bool rejoin_after_leave);
    /// Previous alive nodes in name order (Serf shuffles; the caller may too).
    std::vector<PreviousNode> previous_nodes() const;
};

class SnapshotRecorder {
  public:
    /// `state` from the replay; `file_size` the current length of the file.
    SnapshotRecorder(SnapshotState state, std::size_t file_size, bool rejoin_after_leave,
                     std::size_t min_compact_size = kSnapshotMinCompactSize);

    /// alive/not-alive lines for join/leave/failed events, then a clock line if it moved.
    void record_member_event(const MemberEvent& e, LamportTime member_clock_now);
    void record_user_event(LamportTime ltime);
    void record_query(LamportTime ltime);
    /// "clock: <now-1>" if that is newer than the last recorded (Serf ticks this every 500 ms).
    void update_clock(LamportTime member_clock_now);
    /// "leave"; forgets alive nodes unless rejoin_after_leave; ignores everything afterwards.
    void record_leave();

    /// The lines produced since the last drain (to append to the file).
    std::string drain();
    /// True when the file (as appended so far) exceeds the compaction threshold.
    bool compaction_due() const { return offset_ > max_size(); }
    /// The compacted file content; resets the size accounting to its length. Pending lines
    /// are dropped since the compacted text supersedes them.
    std::string compact();

    const SnapshotState& state() const { return state_; }
    std::size_t max_size() const;

  private:
    void append(const std::string& line);

    SnapshotState state_;
    std::size_t offset_;
    bool rejoin_after_leave_;
    std::size_t min_compact_size_;
    bool leaving_ = false;
    std::string pending_;
};

} // namespace clusterd::serf
