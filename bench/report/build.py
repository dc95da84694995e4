"""Build every sweep-level artifact from a sweep directory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.results import aggregate, collect


def build_reports(sweep_dir: Path, quiet: bool = False) -> pd.DataFrame:
    """Aggregate ``sweep_dir`` (summary.parquet, comparison.csv/.md), print the table, then
    write ``report.html`` (self-contained) and ``report.md`` beside ``comparison.md``.

    Returns:
        The comparison table.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep directory {str(sweep_dir)!r} does not exist")
    collected = collect(sweep_dir)  # read the job dirs once for the table and the report
    table = aggregate(sweep_dir, quiet=quiet, collected=collected)
    from bench.report.html import load_sweep, write_html
    from bench.report.markdown import write_markdown

    rep = load_sweep(sweep_dir, collected=collected)
    html, md = write_html(sweep_dir, rep), write_markdown(sweep_dir, rep)
    if not quiet:
        print(f"report: {html}\n        {md}")
    return table
