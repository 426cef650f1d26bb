#!/usr/bin/env python3
"""Unit test of scripts/format_check.py: a fixture tree with the project's real .clang-format
passes when every file is formatted and fails, naming the file, on each deliberate violation;
--fix repairs it.

  python3 tests/layer/test_format_check.py      (ctest: format_check_selftest)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get("CLUSTERD_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKER = os.path.join(ROOT, "scripts", "format_check.py")

CLEAN = {
    "src/a.cpp": "#include <vector>\n\nint sum(const std::vector<int>& v) {\n    int s = 0;\n"
                 "    for (int x : v)\n        s += x;\n    return s;\n}\n",
    "include/a.hpp": "#pragma once\n\nnamespace x {\nint sum(int a, int b);\n}\n",
}

VIOLATIONS = {
    "two-space indent": ("src/a.cpp", "int f() {\n  return 1;\n}\n"),
    "pointer on the right": ("include/a.hpp", "#pragma once\n\nint* p;\nint *q;\n"),
    "line over 110 columns": ("src/a.cpp", "int f(int aaaaaaaaaaaaaaaaaaaa, int bbbbbbbbbbbbbbbbbbbbbbbb, "
                              "int cccccccccccccccccccccc, int ddddddddddddddddddddddddd);\n"),
    "brace on its own line": ("src/a.cpp", "int f()\n{\n    return 1;\n}\n"),
    "file in a new folder": ("tests/new/b.hpp", "#pragma once\nint  g( );\n"),
}


def run(root: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, CHECKER, "--root", root, *extra], capture_output=True, text=True)


class FormatCheck(unittest.TestCase):
    def make_tree(self) -> str:
        d = tempfile.mkdtemp(prefix="format-check-")
        self.addCleanup(shutil.rmtree, d)
        shutil.copy(os.path.join(ROOT, ".clang-format"), os.path.join(d, ".clang-format"))
        for rel, text in CLEAN.items():
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)
        return d

    def test_clean_tree_passes(self):
        r = run(self.make_tree())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("2/2 files formatted", r.stdout)

    def test_each_violation_fails_and_names_the_file(self):
        for why, (rel, text) in VIOLATIONS.items():
            with self.subTest(why):
                d = self.make_tree()
                os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
                with open(os.path.join(d, rel), "w") as f:
                    f.write(text)
                r = run(d)
                self.assertEqual(r.returncode, 1, why + ": " + r.stdout + r.stderr)
                self.assertIn(f"{rel} differs", r.stdout)
                fixed = run(d, "--fix")
                self.assertEqual(fixed.returncode, 0, fixed.stderr)
                self.assertEqual(run(d).returncode, 0, why + ": --fix did not repair it")

    def test_missing_style_file_is_an_error(self):
        d = self.make_tree()
        os.remove(os.path.join(d, ".clang-format"))
        self.assertEqual(run(d).returncode, 2)


if __name__ == "__main__":
    unittest.main()
