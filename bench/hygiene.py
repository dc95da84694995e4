"""Privacy hygiene: find real records in artifacts that should hold none.

tailbench's reports, logs and tables refer to records by row index only; the
only row-level data it writes is synthetic tables in the cache. This module
scans a folder of artifacts for any real record, so tests (and users) can
check that promise on their own sweeps.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

TEXT_SUFFIXES = {".json", ".md", ".csv", ".log", ".html", ".txt", ".yaml", ".svg"}
_SPLIT = re.compile(r"[,\|\t;\s\"'<>\[\]{}()=:]+")


def _fmt(v) -> set[str]:
    """The textual forms a value may take in an artifact."""
    if isinstance(v, (float, np.floating)):
        f = float(v)
        forms = {repr(f), f"{f:g}", f"{f:.3f}", f"{f:.2f}"}
        if f.is_integer():
            forms.add(str(int(f)))
        return forms
    return {str(v)}


def row_signatures(real: pd.DataFrame) -> list[tuple[int, list[set[str]]]]:
    """For each row: (row id, [set of textual forms per non-missing value])."""
    out = []
    for idx, row in real.iterrows():
        vals = [_fmt(v) for v in row.tolist() if not (v is None or (isinstance(v, float) and np.isnan(v)))]
        out.append((idx, vals))
    return out


def _text_of(path: Path) -> str | None:
    if path.suffix == ".parquet":
        try:
            return pd.read_parquet(path).to_csv(index=False)
        except Exception:  # noqa: BLE001 - unreadable parquet: nothing to scan
            return None
    if path.suffix in TEXT_SUFFIXES:
        return path.read_text(errors="replace")
    return None


def find_real_rows(folder: str | Path, real: pd.DataFrame, exclude: tuple[str, ...] = ()) -> list[tuple[str, int, int]]:
    """Lines of artifacts under ``folder`` that hold every value of a real row.

    Args:
        folder: a sweep or run directory.
        real: the real rows to look for (e.g. the training split).
        exclude: path fragments to skip (e.g. the cache folder).
    Returns:
        ``[(file, line number, row id)]``; empty when no artifact holds a real record.
    """
    sigs = row_signatures(real)
    hits = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or any(x in str(path) for x in exclude):
            continue
        text = _text_of(path)
        if not text:
            continue
        for ln, line in enumerate(text.splitlines(), 1):
            tokens = set(_SPLIT.split(line))
            if len(tokens) < 3:
                continue
            for idx, vals in sigs:
                if vals and all(forms & tokens for forms in vals):
                    hits.append((str(path), ln, int(idx)))
    return hits
