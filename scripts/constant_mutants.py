"""Module-level constants that mutmut leaves alone (it mutates inside functions only): the
evaluation weights, the transition table, the evidence length, the residue area and the
escalation order. Each is changed in a temporary copy of the code, and the pure tests must
fail on every change. Run by scripts/mutation."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/test_evaluation.py",
    "tests/test_lifecycle.py",
    "tests/test_rules_by_hand.py",
    "tests/test_mutation_targets.py",
    "tests/test_quality.py",
]
# (file, text, replacement): each must turn a test red.
MUTANTS = [
    ("gridgov/evaluation/quadrants.py", '0.5, "not_reopened": 0.2, "satisfaction": 0.3',
     '0.1, "not_reopened": 0.8, "satisfaction": 0.1'),
    ("gridgov/evaluation/quadrants.py", '"satisfaction": 0.3}', '"satisfaction": 0.4}'),
    ("gridgov/evaluation/quadrants.py", '"within_sla": 0.5,', '"within_sla": 0.45,'),
    ("gridgov/incidents/lifecycle.py", "(S.RESOLVED, M.REOPEN): S.DISPATCHED",
     "(S.RESOLVED, M.REOPEN): S.ACCEPTED"),
    ("gridgov/incidents/lifecycle.py", "    (S.DISPATCHED, M.ACCEPT): S.ACCEPTED,\n", ""),
    ("gridgov/incidents/lifecycle.py", "    (S.RESOLVED, M.CLOSE): S.CLOSED,\n",
     "    (S.RESOLVED, M.CLOSE): S.CLOSED,\n    (S.CLOSED, M.REOPEN): S.DISPATCHED,\n"),
    ("gridgov/sensors/rules.py", "EVIDENCE = 20", "EVIDENCE = 19"),
    ("gridgov/boundaries/quality.py", "NOISE_M2 = 0.01", "NOISE_M2 = 0.1"),
    ("gridgov/responsibilities/routing.py",
     "(Level.COMMUNITY, Level.STREET, Level.DISTRICT, Level.CITY)",
     "(Level.COMMUNITY, Level.DISTRICT, Level.STREET, Level.CITY)"),
]  # fmt: skip


def tests_on_a_copy(path: str | None, text: str = "", replacement: str = "") -> int:
    """pytest's exit code on a temporary copy of the code with one change (or none)."""
    with tempfile.TemporaryDirectory(prefix="gridgov-constant-") as tmp:
        copy = Path(tmp)
        for part in ("gridgov", "api", "tests", "geodata", "pyproject.toml"):
            source = ROOT / part
            if source.is_dir():
                shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(source, copy / part)
        if path is not None:
            target = copy / path
            original = target.read_text()
            assert text in original, (path, text)
            target.write_text(original.replace(text, replacement, 1))
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
             "-o", "addopts=", *TESTS],
            cwd=copy, capture_output=True, check=False,
        ).returncode  # fmt: skip


def main() -> int:
    # The copy, unchanged, passes (and is what the tests import: every change below shows).
    if (code := tests_on_a_copy(None)) != 0:
        print(f"the unchanged copy fails (pytest {code}): fix the tests first")
        return 1
    survived = []
    for path, text, replacement in MUTANTS:
        code = tests_on_a_copy(path, text, replacement)
        verdict = "killed" if code == 1 else f"SURVIVED (pytest {code})"
        print(f"{verdict}: {path}: {text.strip()[:60]!r} -> {replacement.strip()[:60]!r}")
        if code != 1:
            survived.append(path)
    print(f"{len(MUTANTS) - len(survived)} of {len(MUTANTS)} constant changes fail a test")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
