"""`benchmarks/parse.py` runs and reports sane numbers (one quick pass, no subprocess)."""

from __future__ import annotations

from benchmarks.parse import EXAMPLES, measure_specs


def test_measure_specs_reports_every_example() -> None:
    paths = sorted(EXAMPLES.glob("*.mas"))
    rows = measure_specs(paths, repeat=1)
    assert [row["spec"] for row in rows] == [path.name for path in paths]
    for row in rows:
        assert row["lark_ms"] > 0 and row["front_end_ms"] > 0
        assert row["ratio"] == row["front_end_ms"] / row["lark_ms"]
        assert row["lines"] > 10
