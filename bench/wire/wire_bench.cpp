// Benchmarks of the hot wire paths: alive/ping encode+decode, opening a full 1400-byte compound,
// and packet seal/open throughput with and without AES-GCM.
#include <benchmark/benchmark.h>

#include "clusterd/wire/envelope.hpp"
#include "clusterd/wire/lzw.hpp"
#include "clusterd/wire/memberlist.hpp"
#include "clusterd/wire/serf_messages.hpp"

using namespace clusterd;
using namespace clusterd::wire;

namespace {

Alive sample_alive(std::uint32_t i) {
    return Alive{i,
                 "node-" + std::to_string(i),
                 {10, 0, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)},
                 7946,
                 encode_tags({{"role", "web"}, {"dc", "eu-west-1"}}),
                 {1, 5, 2, 2, 5, 4}};
}

base::Bytes full_compound() {
    std::vector<base::Bytes> parts;
    std::size_t size = 2;
    for (std::uint32_t i = 0;; ++i) {
        auto m = encode(sample_alive(i));
        if (size + m.size() + 2 > kUdpPacketBudget)
            break;
        size += m.size() + 2;
        parts.push_back(std::move(m));
    }
    return encode_compound(parts);
}

NonceSource bench_nonce() {
    return [](std::span<std::uint8_t> out) {
        static std::uint64_t n = 0;
        ++n;
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] = static_cast<std::uint8_t>(n >> (8 * (i % 8)));
    };
}

void BM_EncodeAlive(benchmark::State& st) {
    Message m = sample_alive(42);
    for (auto _ : st)
        benchmark::DoNotOptimize(encode(m));
}
BENCHMARK(BM_EncodeAlive);

void BM_DecodeAlive(benchmark::State& st) {
    auto b = encode(sample_alive(42));
    for (auto _ : st)
        benchmark::DoNotOptimize(decode(b));
}
BENCHMARK(BM_DecodeAlive);

void BM_EncodePing(benchmark::State& st) {
    Message m = Ping{7, "node-7", {10, 0, 0, 1}, 7946, "node-1"};
    for (auto _ : st)
        benchmark::DoNotOptimize(encode(m));
}
BENCHMARK(BM_EncodePing);

void BM_DecodePing(benchmark::State& st) {
    auto b = encode(Ping{7, "node-7", {10, 0, 0, 1}, 7946, "node-1"});
    for (auto _ : st)
        benchmark::DoNotOptimize(decode(b));
}
BENCHMARK(BM_DecodePing);

void BM_Compound1400Open(benchmark::State& st) {
    auto c = full_compound();
    for (auto _ : st) {
        auto msgs = open_packet(c, nullptr, false);
        for (const auto& m : *msgs)
            benchmark::DoNotOptimize(decode(m));
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(c.size()));
}
BENCHMARK(BM_Compound1400Open);

void BM_Compound1400Build(benchmark::State& st) {
    for (auto _ : st)
        benchmark::DoNotOptimize(full_compound());
}
BENCHMARK(BM_Compound1400Build);

void BM_SealPacket(benchmark::State& st) {
    auto c = full_compound();
    auto ring = Keyring::from_base64({"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="});
    const Keyring* k = st.range(0) ? &*ring : nullptr;
    SealOptions opts{st.range(1) != 0, true, 1};
    auto nonce = bench_nonce();
    for (auto _ : st)
        benchmark::DoNotOptimize(seal_packet(c, opts, k, nonce));
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(c.size()));
}
BENCHMARK(BM_SealPacket)
    ->ArgNames({"encrypt", "compress"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1});

void BM_OpenPacket(benchmark::State& st) {
    auto c = full_compound();
    auto ring = Keyring::from_base64({"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="});
    const Keyring* k = st.range(0) ? &*ring : nullptr;
    auto sealed = seal_packet(c, SealOptions{st.range(1) != 0, true, 1}, k, bench_nonce());
    for (auto _ : st)
        benchmark::DoNotOptimize(open_packet(*sealed, k, k != nullptr));
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(c.size()));
}
BENCHMARK(BM_OpenPacket)
    ->ArgNames({"encrypt", "compress"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1});

void BM_EncryptThroughput(benchmark::State& st) {
    base::Bytes msg(static_cast<std::size_t>(st.range(0)), 0x5a);
    auto ring = Keyring::from_base64({"AAECAwQFBgcICQoLDA0ODw=="});
    auto nonce = bench_nonce();
    for (auto _ : st)
        benchmark::DoNotOptimize(seal_stream(msg, false, &*ring, nonce));
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_EncryptThroughput)->Arg(1400)->Arg(64 * 1024)->Arg(1 << 20);

void BM_DecryptThroughput(benchmark::State& st) {
    base::Bytes msg(static_cast<std::size_t>(st.range(0)), 0x5a);
    auto ring = Keyring::from_base64({"AAECAwQFBgcICQoLDA0ODw=="});
    auto frame = seal_stream(msg, false, &*ring, bench_nonce());
    for (auto _ : st)
        benchmark::DoNotOptimize(open_stream(*frame, &*ring, true));
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_DecryptThroughput)->Arg(1400)->Arg(64 * 1024)->Arg(1 << 20);

} // namespace

BENCHMARK_MAIN();
