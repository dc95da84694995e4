"""Build every sweep-level artifact from a sweep directory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.results import aggregate, sweep_tables


def build_reports(sweep_dir: Path, quiet: bool = False) -> pd.DataFrame:
    """Aggregate ``sweep_dir`` (summary.parquet, comparison.csv/.md), print the table, then
    write ``report.html`` (self-contained) and ``report.md`` beside ``comparison.md``.

    Returns:
        The comparison table.
    """
    sweep_dir = Path(sweep_dir)
    tables = sweep_tables(sweep_dir)  # read and derive once for the table and the report
    table = aggregate(sweep_dir, quiet=quiet, tables=tables)
    from bench.report.html import load_sweep, write_html
    from bench.report.markdown import write_markdown

    rep = load_sweep(sweep_dir, tables=tables)
    html, md = write_html(sweep_dir, rep), write_markdown(sweep_dir, rep)
    if not quiet:
        print(f"report: {html}\n        {md}")
    return table
