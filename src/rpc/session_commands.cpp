// The IPC command table: each command's name, request body type and handler. Adding a command is
// one row here plus its handler in the family file (session_cluster.cpp, session_streams.cpp,
// session_keys.cpp).
#include <array>

#include "clusterd/rpc/session.hpp"

namespace clusterd::rpc {

template <typename Req, bool (Session::*Handler)(std::uint64_t, const Req&)>
bool Session::run_command(Session& s, const Command& c, std::uint64_t seq, base::ByteView body) {
    Req req{};
    if constexpr (!std::is_same_v<Req, NoBody>) {
        if (!decode(body, req).ok()) {
            s.close("malformed " + std::string(c.name) + " body");
            return false;
        }
    }
    return (s.*Handler)(seq, req);
}

const Session::Command* Session::find_command(std::string_view name) {
    using S = Session;
    static const std::array<Command, 21> kTable = {
        // IPC v1, as Serf's agent/ipc.go names them
        command<HandshakeRequest, &S::on_handshake>(cmd::kHandshake),
        command<AuthRequest, &S::on_auth>(cmd::kAuth),
        command<EventRequest, &S::on_event>(cmd::kEvent),
        command<ForceLeaveRequest, &S::on_force_leave>(cmd::kForceLeave),
        command<JoinRequest, &S::on_join>(cmd::kJoin),
        command<NoBody, &S::on_members>(cmd::kMembers),
        command<MembersFilteredRequest, &S::on_members_filtered>(cmd::kMembersFiltered),
        command<TagsRequest, &S::on_tags>(cmd::kTags),
        command<StreamRequest, &S::on_stream>(cmd::kStream),
        command<MonitorRequest, &S::on_monitor>(cmd::kMonitor),
        command<StopRequest, &S::on_stop>(cmd::kStop),
        command<NoBody, &S::on_leave>(cmd::kLeave),
        command<QueryRequest, &S::on_query>(cmd::kQuery),
        command<RespondRequest, &S::on_respond>(cmd::kRespond),
        command<KeyRequest, &S::on_install_key>(cmd::kInstallKey),
        command<KeyRequest, &S::on_use_key>(cmd::kUseKey),
        command<KeyRequest, &S::on_remove_key>(cmd::kRemoveKey),
        command<NoBody, &S::on_list_keys>(cmd::kListKeys),
        command<NoBody, &S::on_stats>(cmd::kStats),
        command<CoordinateRequest, &S::on_get_coordinate>(cmd::kGetCoordinate),
        // clusterd's own
        command<NoBody, &S::on_store_list>(cmd::kStoreList),
    };
    for (const auto& c : kTable)
        if (c.name == name)
            return &c;
    return nullptr;
}

} // namespace clusterd::rpc
