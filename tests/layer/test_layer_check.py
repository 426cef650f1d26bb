#!/usr/bin/env python3
"""Unit test of scripts/layer_check.py: tiny fixture trees (with the real docs/architecture.md,
so the real rows are what rejects each violation) that pass when clean and fail on each kind of
deliberate violation; then the real tree, which must pass.

  python3 tests/layer/test_layer_check.py      (ctest: layer_check_selftest)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.environ.get("CLUSTERD_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKER = os.path.join(ROOT, "scripts", "layer_check.py")
DOC = os.path.join(ROOT, "docs", "architecture.md")

# A clean miniature of the tree: every file here stays inside its row.
CLEAN = {
    "src/base/CMakeLists.txt": "clusterd_module(base SOURCES rng.cpp)\n",
    "include/clusterd/base/time.hpp": """\
        #pragma once
        // Pure: nothing here reads a clock (std::chrono::steady_clock::now() is the driver's job).
        #include <chrono>
        #include <cstdint>
        namespace clusterd::base { using Duration = std::chrono::nanoseconds; }
        """,
    "src/base/rng.cpp": """\
        #include "clusterd/base/time.hpp"
        #include <array>
        /* no std::random_device: seeds come from outside */
        const char* kDoc = "std::random_device and printf are only named in this string";
        int digits = 1'000'000;
        """,
    "src/swim/CMakeLists.txt": """\
        clusterd_module(swim
          SOURCES probe.cpp
          PUBLIC_DEPS clusterd_base clusterd_wire)
        """,
    "src/swim/probe.cpp": """\
        #include "clusterd/swim/probe.hpp"
        #include "clusterd/wire/memberlist.hpp"
        #include "clusterd/base/time.hpp"
        #include <cstdio>
        #include <vector>
        struct Clock { int time() const { return 0; } };
        int probe(Clock clock_) { char b[8]; std::snprintf(b, sizeof b, "%d", clock_.time()); return 0; }
        """,
    "include/clusterd/swim/probe.hpp": "#pragma once\n#include <string>\n",
    "src/wire/CMakeLists.txt": """\
        clusterd_module(wire SOURCES memberlist.cpp PUBLIC_DEPS clusterd_base
                        PRIVATE_DEPS OpenSSL::Crypto)
        """,
    "src/wire/memberlist.cpp": "#include <openssl/evp.h>\n#include \"clusterd/wire/memberlist.hpp\"\n",
    "include/clusterd/wire/memberlist.hpp": "#pragma once\n#include \"clusterd/base/time.hpp\"\n",
    "src/serf/CMakeLists.txt": """\
        clusterd_module(serf SOURCES node.cpp
          PUBLIC_DEPS clusterd_base clusterd_coord clusterd_swim clusterd_wire)
        """,
    "src/serf/node.cpp": "#include \"clusterd/swim/probe.hpp\"\n#include <arpa/inet.h>\n",
    "src/discovery/CMakeLists.txt": "clusterd_module(discovery SOURCES registry.cpp PUBLIC_DEPS clusterd_base)\n",
    "src/discovery/registry.cpp": """\
        #include "clusterd/base/time.hpp"
        #include <random>   // distributions only
        namespace clusterd::discovery { int jitter(int x) { return x; } }
        """,
    "src/net/CMakeLists.txt": """\
        clusterd_module(net SOURCES driver.cpp PUBLIC_DEPS clusterd_base clusterd_asio clusterd_swim clusterd_wire)
        """,
    "src/net/driver.cpp": """\
        #include "clusterd/net/driver.hpp"
        #include "clusterd/swim/probe.hpp"
        #include <asio.hpp>
        #include <sys/socket.h>
        auto t = std::chrono::steady_clock::now();
        """,
    "include/clusterd/net/driver.hpp": "#pragma once\n#include <asio/io_context.hpp>\n",
    "src/agent/CMakeLists.txt": """\
        clusterd_module(agent SOURCES agent.cpp
                        PUBLIC_DEPS clusterd_base clusterd_asio
                        PRIVATE_DEPS clusterd_serf clusterd_net clusterd_spdlog)
        """,
    "src/agent/agent.cpp": "#include \"clusterd/net/driver.hpp\"\n#include <spdlog/spdlog.h>\n#include <fstream>\n",
}


def dedent(text: str) -> str:
    return textwrap.dedent(text)


class LayerCheckFixtures(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="layer-check-")
        self.addCleanup(shutil.rmtree, self.tmp)
        os.makedirs(os.path.join(self.tmp, "docs"))
        shutil.copy(DOC, os.path.join(self.tmp, "docs", "architecture.md"))
        for rel, text in CLEAN.items():
            self.write(rel, text)

    def write(self, rel: str, text: str) -> None:
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(dedent(text))

    def append(self, rel: str, text: str) -> None:
        with open(os.path.join(self.tmp, rel), "a", encoding="utf-8") as f:
            f.write(dedent(text))

    def run_checker(self) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, CHECKER, "--root", self.tmp],
                              capture_output=True, text=True, timeout=60)

    def assert_violations(self, *expected: str) -> list[str]:
        """Exit 1, and exactly the expected lines (each a prefix of one violation line)."""
        r = self.run_checker()
        self.assertEqual(r.returncode, 1, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), len(expected), r.stdout)
        for want in expected:
            self.assertTrue(any(line.startswith(want) for line in lines), f"no '{want}' in:\n{r.stdout}")
        return lines

    def test_clean_tree_passes(self) -> None:
        r = self.run_checker()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count("\n"), 1, r.stdout)
        self.assertTrue(r.stdout.startswith("layer_check: OK"), r.stdout)

    def test_swim_including_net_fails(self) -> None:
        self.append("src/swim/probe.cpp", '#include "clusterd/net/driver.hpp"\n')
        (line,) = self.assert_violations("src/swim/probe.cpp:8: swim: includes \"clusterd/net/driver.hpp\"")
        self.assertIn("module net", line)

    def test_swim_reaching_net_by_relative_path_fails(self) -> None:
        self.append("src/swim/probe.cpp", '#include "../net/driver.cpp"\n')
        self.assert_violations("src/swim/probe.cpp:8: swim: includes \"../net/driver.cpp\" (module net")

    def test_swim_including_asio_fails(self) -> None:
        self.write("include/clusterd/swim/probe.hpp", "#pragma once\n#include <asio.hpp>\n")
        (line,) = self.assert_violations("include/clusterd/swim/probe.hpp:2: swim: includes <asio.hpp> (group asio")
        self.assertIn("rule 1", line)

    def test_pure_module_including_os_headers_fails(self) -> None:
        self.append("src/swim/probe.cpp", "#include <sys/socket.h>\n#include <fstream>\n#include <thread>\n")
        self.assert_violations("src/swim/probe.cpp:8: swim: includes <sys/socket.h> (group os",
                               "src/swim/probe.cpp:9: swim: includes <fstream> (group files",
                               "src/swim/probe.cpp:10: swim: includes <thread> (group threads")

    def test_unknown_library_header_fails(self) -> None:
        self.append("src/swim/probe.cpp", "#include <boost/asio.hpp>\n")
        self.assert_violations("src/swim/probe.cpp:8: swim: includes <boost/asio.hpp>: not a standard header")

    def test_serf_linking_agent_fails(self) -> None:
        self.write("src/serf/CMakeLists.txt", """\
            clusterd_module(serf SOURCES node.cpp
              PUBLIC_DEPS clusterd_base clusterd_swim
              PRIVATE_DEPS clusterd_agent)
            """)
        (line,) = self.assert_violations("src/serf/CMakeLists.txt:3: serf: links clusterd_agent (module agent")
        self.assertIn("serf may use base coord regex swim wire", line)

    def test_target_link_libraries_of_a_pure_module_fails(self) -> None:
        self.append("src/swim/CMakeLists.txt", "target_link_libraries(clusterd_swim PRIVATE clusterd_asio clusterd_spdlog)\n")
        self.assert_violations("src/swim/CMakeLists.txt:4: swim: links clusterd_asio (group asio",
                               "src/swim/CMakeLists.txt:4: swim: links clusterd_spdlog (group spdlog")

    def test_private_library_in_public_header_or_public_link_fails(self) -> None:
        self.append("include/clusterd/wire/memberlist.hpp", "#include <openssl/evp.h>\n")
        self.write("src/wire/CMakeLists.txt", """\
            clusterd_module(wire SOURCES memberlist.cpp
                            PUBLIC_DEPS clusterd_base OpenSSL::Crypto)
            """)
        self.assert_violations("include/clusterd/wire/memberlist.hpp:3: wire: includes <openssl/evp.h> in a public header",
                               "src/wire/CMakeLists.txt:2: wire: links OpenSSL::Crypto publicly")

    def test_random_device_in_discovery_fails(self) -> None:
        self.append("src/discovery/registry.cpp", """\
            namespace clusterd::discovery {
            unsigned seed() { std::random_device rd; return rd(); }
            }
            """)
        (line,) = self.assert_violations("src/discovery/registry.cpp:5: discovery: uses random_device")
        self.assertIn("rule 1", line)

    def test_clock_reads_in_pure_modules_fail(self) -> None:
        self.append("src/swim/probe.cpp", """\
            auto a = std::chrono::steady_clock::now();
            auto b = std::chrono::system_clock::now();
            """)
        self.append("src/serf/node.cpp", "using namespace std::chrono; auto c = steady_clock::now();\n")
        self.assert_violations("src/swim/probe.cpp:8: swim: uses steady_clock",
                               "src/swim/probe.cpp:9: swim: uses system_clock",
                               "src/serf/node.cpp:3: serf: uses steady_clock")

    def test_logging_in_pure_module_fails(self) -> None:
        self.append("src/base/rng.cpp", '#include <cstdio>\nvoid say() { std::printf("hi\\n"); }\n')
        self.assert_violations("src/base/rng.cpp:7: base: uses printf")

    def test_module_without_row_fails(self) -> None:
        self.write("src/telemetry/CMakeLists.txt", "add_library(clusterd_telemetry STATIC reader.cpp)\n")
        self.write("src/telemetry/reader.cpp", '#include "clusterd/base/time.hpp"\n')
        self.write("src/telemetry/writer.cpp", '#include "clusterd/base/time.hpp"\n')  # one line per folder
        self.append("src/wire/memberlist.cpp", '#include "clusterd/telemetry/reader.hpp"\n')
        self.assert_violations("src/telemetry/CMakeLists.txt:1: telemetry: CMake target clusterd_telemetry has no row",
                               "src/telemetry/reader.cpp:1: telemetry: module has no row",
                               "src/wire/memberlist.cpp:3: wire: includes \"clusterd/telemetry/reader.hpp\": module telemetry has no row")

    def test_rpc_core_cannot_use_the_server_files(self) -> None:
        self.write("src/rpc/CMakeLists.txt", """\
            clusterd_module(rpc SOURCES session.cpp PUBLIC_DEPS clusterd_base)
            clusterd_module(rpc_net SOURCES server.cpp PUBLIC_DEPS clusterd_rpc clusterd_asio)
            """)
        self.write("src/rpc/server.cpp", "#include <asio/post.hpp>\n#include \"clusterd/rpc/session.hpp\"\n")
        self.write("include/clusterd/rpc/session.hpp", "#pragma once\n")
        self.write("src/rpc/session.cpp", "#include \"clusterd/rpc/session.hpp\"\n")
        self.assertEqual(self.run_checker().returncode, 0)
        self.append("src/rpc/session.cpp", "#include \"clusterd/rpc/server.hpp\"\n#include <asio/post.hpp>\n")
        self.assert_violations("src/rpc/session.cpp:2: rpc: includes \"clusterd/rpc/server.hpp\" (module rpc_net",
                               "src/rpc/session.cpp:3: rpc: includes <asio/post.hpp> (group asio")

    def test_missing_or_malformed_block_exits_2(self) -> None:
        doc = os.path.join(self.tmp, "docs", "architecture.md")
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        with open(doc, "w", encoding="utf-8") as f:
            f.write(text.replace("swim      | base wire ", "swim      | base wire nosuchmodule "))
        r = self.run_checker()
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("unknown module nosuchmodule", r.stderr)
        with open(doc, "w", encoding="utf-8") as f:
            f.write(text.replace("```layers", "```"))
        r = self.run_checker()
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("no ```layers block", r.stderr)


class LayerCheckRealTree(unittest.TestCase):
    def test_real_tree_passes(self) -> None:
        r = subprocess.run([sys.executable, CHECKER, "--root", ROOT], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("layer_check: OK"), r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
