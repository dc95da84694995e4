"""Build every sweep-level artifact from a sweep directory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.results import aggregate


def build_reports(sweep_dir: Path, quiet: bool = False) -> pd.DataFrame:
    """Aggregate ``sweep_dir`` (summary.parquet, comparison.csv/.md) and print the table.

    Returns:
        The comparison table.
    """
    return aggregate(Path(sweep_dir), quiet=quiet)
