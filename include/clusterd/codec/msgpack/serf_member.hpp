// The field list of Go's serf.Member, which travels twice: as the gossip conflict response
// (wire::SerfConflictResponse, Status an int) and as the IPC member record (rpc::Member,
// Status a string). One list for both, over any struct with these member names.
#pragma once

#include "clusterd/codec/msgpack/fields.hpp"

namespace clusterd::codec::msgpack {

template <typename M> constexpr auto serf_member_fields() {
    return fields(field("Addr", &M::addr), field("DelegateCur", &M::delegate_cur),
                  field("DelegateMax", &M::delegate_max), field("DelegateMin", &M::delegate_min),
                  field("Name", &M::name), field("Port", &M::port), field("ProtocolCur", &M::protocol_cur),
                  field("ProtocolMax", &M::protocol_max), field("ProtocolMin", &M::protocol_min),
                  field("Status", &M::status), field("Tags", &M::tags));
}

} // namespace clusterd::codec::msgpack
