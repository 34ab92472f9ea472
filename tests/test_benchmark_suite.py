"""The benchmark suite's smoke version (`scripts/benchmark --quick`) runs end to end: every
row of the table has its figures. No speed is asserted here; docs/BENCHMARKS.md holds those."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.suite import END_MARK, ROWS, START_MARK
from gridgov.config import PROJECT_ROOT


def test_the_quick_suite_writes_every_row_with_numbers(tmp_path: Path) -> None:
    out, markdown = tmp_path / "latest.json", tmp_path / "BENCHMARKS.md"
    markdown.write_text(f"# Kept\n\n{START_MARK}\nold\n{END_MARK}\n\nkept after\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.suite",
            "--quick",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(out),
            "--markdown",
            str(markdown),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["machine"]["cores"] >= 1 and result["machine"]["cpu"]
    rows = {row["key"]: row for row in result["rows"]}
    assert set(rows) == {spec["key"] for spec in ROWS}
    for key, row in rows.items():
        subject, ceiling = row["subject_figures"], row["ceiling_figures"]
        assert subject["value"] > 0 and ceiling["value"] > 0, key
        assert row["ratio_to_ceiling"] > 0, key
        assert "errors" not in subject and "errors" not in ceiling, (key, subject, ceiling)
        if row["peer"].startswith("MapIt"):  # no MapIt in --quick: said so, not faked
            assert "peer_figures" not in row and row["peer_error"]
        elif row["peer"]:
            assert row["peer_figures"]["value"] > 0 and row["ratio_to_peer"] > 0, key
    for key in ("locate_16", "report_16", "nearest_16"):
        assert rows[key]["subject_figures"]["p99_ms"] >= rows[key]["subject_figures"]["p50_ms"]
    text = markdown.read_text()
    assert text.startswith("# Kept") and text.endswith("kept after\n") and "old" not in text
    for spec in ROWS:
        assert spec["what"] in text
