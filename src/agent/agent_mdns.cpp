// The agent's edge of Serf's mDNS discovery (see agent_mdns.hpp). Every completion handler holds
// a shared_ptr to the edge's State and returns at once after stop() (docs/architecture.md rule 5).
#include "agent_mdns.hpp"

#include "agent_impl.hpp"
#include "clusterd/net/address.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <random>

namespace clusterd::agent {

namespace {

using udp = asio::ip::udp;

base::Instant mono_now() {
    return base::Instant{
        std::chrono::duration_cast<base::Duration>(std::chrono::steady_clock::now().time_since_epoch())};
}

struct Iface {
    std::string name;   ///< "" = let the kernel choose
    unsigned index = 0; ///< for IPv6 (0 = default)
    std::optional<asio::ip::address_v4> v4;
    bool has_v6 = false;
};

// The interface named `name`, or the one holding `addr`.
base::Result<Iface> find_iface(const std::string& name, const base::Bytes& addr) {
    Iface out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0)
        return base::make_error("mdns", std::string("getifaddrs: ") + std::strerror(errno));
    std::string chosen = name;
    if (chosen.empty()) {
        for (ifaddrs* i = list; i; i = i->ifa_next) {
            if (!i->ifa_addr)
                continue;
            if (i->ifa_addr->sa_family == AF_INET && addr.size() == 4 &&
                std::memcmp(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, addr.data(), 4) == 0)
                chosen = i->ifa_name;
            if (i->ifa_addr->sa_family == AF_INET6 && addr.size() == 16 &&
                std::memcmp(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, addr.data(), 16) == 0)
                chosen = i->ifa_name;
        }
    }
    bool exists = false;
    for (ifaddrs* i = list; i && !chosen.empty(); i = i->ifa_next) {
        if (chosen != i->ifa_name)
            continue;
        exists = true;
        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET && !out.v4) {
            std::array<unsigned char, 4> b{};
            std::memcpy(b.data(), &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
            out.v4 = asio::ip::address_v4(b);
        }
        if (i->ifa_addr->sa_family == AF_INET6)
            out.has_v6 = true;
    }
    ::freeifaddrs(list);
    if (!name.empty() && !exists)
        return base::make_error("mdns", "interface '" + name + "' not found");
    if (exists) {
        out.name = chosen;
        out.index = ::if_nametoindex(chosen.c_str());
    } else {
        out.has_v6 = true; // the kernel's default interface; try both families
    }
    return out;
}

} // namespace

struct MdnsEdge::State : std::enable_shared_from_this<MdnsEdge::State> {
    State(asio::io_context& ctx, mdns::Options o, Hooks h)
        : machine(std::move(o)), hooks(std::move(h)), timer(ctx), listen4(ctx), query4(ctx), listen6(ctx),
          query6(ctx) {}

    mdns::Discovery machine;
    Hooks hooks;
    asio::steady_timer timer;
    udp::socket listen4, query4, listen6, query6;
    std::string where;
    bool stopped = false;
    static constexpr int kMaxReceiveErrors = 1000; ///< in a row, over all sockets
    int receive_errors = 0;
    base::Instant armed = base::Instant::max();

    struct Reader {
        std::array<std::uint8_t, 9000> buf{};
        udp::endpoint from;
    };

    void receive(udp::socket& sock) {
        auto r = std::make_shared<Reader>();
        sock.async_receive_from(
            asio::buffer(r->buf), r->from,
            [self = shared_from_this(), &sock, r](const std::error_code& ec, std::size_t n) {
                // `sock` is a member of *self, which this handler keeps alive.
                if (self->stopped || ec == asio::error::operation_aborted)
                    return;
                if (!ec) {
                    mdns::Endpoint from;
                    const auto a = r->from.address();
                    if (a.is_v4()) {
                        auto b = a.to_v4().to_bytes();
                        from.ip.assign(b.begin(), b.end());
                    } else {
                        auto b = a.to_v6().to_bytes();
                        from.ip.assign(b.begin(), b.end());
                    }
                    from.port = r->from.port();
                    self->machine.on_packet(std::span<const std::uint8_t>(r->buf.data(), n), from,
                                            mono_now());
                }
                // A receive error (an ICMP error queued on the socket) is not fatal, but a
                // socket that only fails is given up rather than spun on.
                if (ec && ++self->receive_errors > kMaxReceiveErrors) {
                    self->hooks.log(LogLevel::Error, "giving up a multicast socket after " +
                                                         std::to_string(kMaxReceiveErrors) +
                                                         " receive errors in a row: " + ec.message());
                    return;
                }
                if (!ec)
                    self->receive_errors = 0;
                self->receive(sock);
                self->pump();
            });
    }

    void send(const mdns::Datagram& d) {
        const bool v6 = d.to.ip.size() == 16;
        udp::socket& sock =
            d.kind == mdns::Datagram::Kind::Query ? (v6 ? query6 : query4) : (v6 ? listen6 : listen4);
        if (!sock.is_open())
            return; // that family is not available here
        udp::endpoint to;
        if (v6) {
            asio::ip::address_v6::bytes_type b{};
            std::copy(d.to.ip.begin(), d.to.ip.end(), b.begin());
            asio::ip::address_v6 a(b);
            if (a.is_multicast_link_local() || a.is_link_local())
                a.scope_id(if_index);
            to = udp::endpoint(a, d.to.port);
        } else {
            asio::ip::address_v4::bytes_type b{};
            std::copy(d.to.ip.begin(), d.to.ip.end(), b.begin());
            to = udp::endpoint(asio::ip::address_v4(b), d.to.port);
        }
        // Datagrams are small and the socket is non-blocking: a full buffer drops the datagram,
        // which mDNS tolerates (the next poll asks again). Never blocks the loop.
        std::error_code ec;
        sock.send_to(asio::buffer(d.data), to, 0, ec);
        if (ec && ec != asio::error::would_block)
            hooks.log(LogLevel::Debug, "send to " + to.address().to_string() + ": " + ec.message());
    }

    void pump() {
        if (stopped)
            return;
        const auto now = mono_now();
        machine.tick(now);
        while (auto d = machine.poll_transmit())
            send(*d);
        while (auto j = machine.poll_join()) {
            std::weak_ptr<State> weak = shared_from_this();
            const auto id = j->id;
            hooks.join(*j, [weak, id](int joined) {
                if (auto s = weak.lock(); s && !s->stopped) {
                    s->machine.on_join_result(id, joined);
                    s->pump();
                }
            });
        }
        while (auto l = machine.poll_log())
            hooks.log(l->rfind("dropped", 0) == 0 ? LogLevel::Debug : LogLevel::Info, *l);
        const auto deadline = machine.next_deadline();
        if (deadline == armed)
            return;
        armed = deadline;
        if (deadline == base::Instant::max()) {
            timer.cancel();
            return;
        }
        timer.expires_after(deadline > now ? deadline - now : base::Duration{0});
        timer.async_wait([self = shared_from_this(), deadline](const std::error_code& ec) {
            if (ec || self->stopped || self->armed != deadline)
                return;
            self->armed = base::Instant::max();
            self->pump();
        });
    }

    unsigned if_index = 0;
};

namespace {

// SO_REUSEPORT has no asio option; a failure shows up as the bind's error.
void reuse_port(udp::socket& s) {
    const int one = 1;
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
}

// The 5353 listener and the query socket of one family; the error says what failed.
std::string open_v4(MdnsEdge::State& st, const Iface& ifc) {
    try {
        const auto group = asio::ip::make_address_v4("224.0.0.251");
        st.listen4.open(udp::v4());
        st.listen4.set_option(udp::socket::reuse_address(true));
        reuse_port(st.listen4);
        st.listen4.bind(udp::endpoint(asio::ip::address_v4::any(), mdns::kPort));
        const auto local = ifc.v4 ? *ifc.v4 : asio::ip::address_v4::any();
        st.listen4.set_option(asio::ip::multicast::join_group(group, local));
        for (auto* s : {&st.listen4, &st.query4}) {
            if (!s->is_open()) {
                s->open(udp::v4());
                s->bind(udp::endpoint(asio::ip::address_v4::any(), 0));
            }
            if (ifc.v4)
                s->set_option(asio::ip::multicast::outbound_interface(*ifc.v4));
            s->set_option(asio::ip::multicast::enable_loopback(true));
            s->set_option(asio::ip::multicast::hops(255)); // RFC 6762 §11
            s->non_blocking(true);
        }
        return "";
    } catch (const std::system_error& e) {
        std::error_code ignored;
        st.listen4.close(ignored);
        st.query4.close(ignored);
        return e.what();
    }
}

std::string open_v6(MdnsEdge::State& st, const Iface& ifc) {
    try {
        const auto group = asio::ip::make_address_v6("ff02::fb");
        st.listen6.open(udp::v6());
        st.listen6.set_option(asio::ip::v6_only(true));
        st.listen6.set_option(udp::socket::reuse_address(true));
        reuse_port(st.listen6);
        st.listen6.bind(udp::endpoint(asio::ip::address_v6::any(), mdns::kPort));
        st.listen6.set_option(asio::ip::multicast::join_group(group, ifc.index));
        for (auto* s : {&st.listen6, &st.query6}) {
            if (!s->is_open()) {
                s->open(udp::v6());
                s->set_option(asio::ip::v6_only(true));
                s->bind(udp::endpoint(asio::ip::address_v6::any(), 0));
            }
            if (ifc.index)
                s->set_option(asio::ip::multicast::outbound_interface(ifc.index));
            s->set_option(asio::ip::multicast::enable_loopback(true));
            s->set_option(asio::ip::multicast::hops(255));
            s->non_blocking(true);
        }
        return "";
    } catch (const std::system_error& e) {
        std::error_code ignored;
        st.listen6.close(ignored);
        st.query6.close(ignored);
        return e.what();
    }
}

} // namespace

base::Result<std::unique_ptr<MdnsEdge>> MdnsEdge::start(asio::io_context& io, mdns::Options opts,
                                                        const std::string& iface, Hooks hooks) {
    auto ifc = find_iface(iface, opts.addr);
    if (!ifc)
        return ifc.error();
    auto st = std::make_shared<State>(io, std::move(opts), std::move(hooks));
    st->if_index = ifc->index;
    std::string families, errors;
    if (auto e = open_v4(*st, *ifc); e.empty())
        families += "IPv4";
    else
        errors += "IPv4: " + e;
    if (ifc->has_v6) {
        if (auto e = open_v6(*st, *ifc); e.empty())
            families += families.empty() ? "IPv6" : ", IPv6";
        else
            errors += (errors.empty() ? "IPv6: " : "; IPv6: ") + e;
    }
    if (families.empty())
        return base::make_error("mdns", "no multicast listener could be opened (" + errors + ")");
    if (!errors.empty())
        st->hooks.log(LogLevel::Debug, "not listening on " + errors);
    st->where =
        (ifc->name.empty() ? std::string("the default interface") : ifc->name) + " (" + families + ")";
    std::vector<std::uint16_t> own;
    for (auto* s : {&st->query4, &st->query6}) {
        std::error_code ec;
        if (s->is_open())
            if (auto ep = s->local_endpoint(ec); !ec)
                own.push_back(ep.port());
    }
    st->machine.set_own_ports(std::move(own));
    for (auto* s : {&st->listen4, &st->query4, &st->listen6, &st->query6})
        if (s->is_open())
            st->receive(*s);
    st->machine.start(mono_now());
    st->pump();
    return std::unique_ptr<MdnsEdge>(new MdnsEdge(std::move(st)));
}

MdnsEdge::~MdnsEdge() {
    stop();
}

void MdnsEdge::stop() {
    if (!s_ || s_->stopped)
        return;
    s_->stopped = true;
    std::error_code ignored;
    s_->timer.cancel();
    for (auto* s : {&s_->listen4, &s_->query4, &s_->listen6, &s_->query6})
        s->close(ignored);
}

const mdns::Stats& MdnsEdge::stats() const {
    return s_->machine.stats();
}

const std::string& MdnsEdge::where() const {
    return s_->where;
}

void Agent::start_mdns() {
    if (cfg_.discover.empty())
        return;
    mdns::Options o;
    o.cluster = cfg_.discover;
    o.instance = cfg_.node_name;
    // Serf's responder names the host by os.Hostname(); so does clusterd.
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == 0)
        std::strcpy(host, "localhost");
    o.host = host;
    o.port = static_cast<std::uint16_t>(advertise_port_);
    std::random_device rd;
    o.query_id = static_cast<std::uint16_t>(rd());
    if (auto ip = net::ip_bytes(advertise_host_))
        o.addr = *ip;
    std::weak_ptr<int> alive = alive_;
    MdnsEdge::Hooks hooks;
    hooks.log = [this](LogLevel level, const std::string& text) { log_.log(level, "agent.mdns", text); };
    hooks.join = [this, alive](const mdns::JoinRequest& j, std::function<void(int)> done) {
        auto fail = [this, &done](const std::string& why) {
            log_.warn("agent.mdns", "failed to join: " + why);
            asio::post(io_, [done] { done(0); });
        };
        if (alive.expired() || shutting_down_)
            return;
        std::string names;
        for (std::size_t i = 0; i < j.names.size(); ++i)
            names += (i ? ", " : "") + j.names[i] + " (" + j.addresses[i] + ")";
        log_.info("agent.mdns", "joining " + names);
        auto seeds = resolve(j.addresses);
        if (!seeds)
            return fail(seeds.error().message);
        auto id = start_join_with(*seeds);
        if (!id)
            return fail(id.error().message);
        joins_[*id].done = [this, done](int ok, const std::string& err) {
            if (ok > 0)
                log_.info("agent.mdns", "joined " + std::to_string(ok) + " host(s)");
            else
                log_.warn("agent.mdns", "failed to join: " + err);
            done(ok);
        };
        driver_->kick();
    };
    auto edge = MdnsEdge::start(io_, std::move(o), cfg_.interface_name, std::move(hooks));
    if (!edge) {
        // Serf refuses to start without its mDNS listener; clusterd keeps running without
        // discovery and says so (the cluster can still be joined by address).
        log_.error("agent.mdns",
                   "mDNS discovery for '" + cfg_.discover + "' not started: " + edge.error().message);
        return;
    }
    mdns_ = std::move(*edge);
    log_.info("agent.mdns", "mDNS discovery: cluster '" + cfg_.discover + "' (_serf_" + cfg_.discover +
                                "._tcp.local.) on " + mdns_->where());
}

void Agent::stop_mdns() {
    if (mdns_)
        mdns_->stop();
}

} // namespace clusterd::agent
