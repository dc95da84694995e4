"""Privacy hygiene: find real records in artifacts that should hold none.

tailbench's reports, logs and tables refer to records by row index only; the
only row-level data it writes is synthetic tables in the cache. This module
scans a folder of artifacts for any real record, so tests (and users) can
check that promise on their own sweeps.

A record is found when every one of its non-missing values appears, in one of
the textual forms a value takes (``40``, ``40.0``, ``40.000``), inside one
*group* of an artifact. Groups follow the artifact's structure rather than its
line breaks, so a record written across several lines is still one group:

* JSON and YAML: every object or list, with its direct scalar members (an
  indented ``{"age": 39, ...}`` or ``[39, "State-gov", ...]`` is one group);
* HTML: every table row (``<tr>...</tr>``, one ``<td>`` per line or not),
  every element's text, and every line with the tags removed;
* SVG: every element with the text of its direct children (values written
  as sibling ``<text>`` elements are one group);
* Parquet: every row of the table;
* any other text (CSV, markdown, logs): every line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TEXT_SUFFIXES = {".json", ".md", ".csv", ".log", ".html", ".txt", ".yaml", ".yml", ".svg"}
_SPLIT = re.compile(r"[,\|\t;\s\"'<>\[\]{}()=:]+")
_TR = re.compile(r"<tr\b.*?</tr>", re.S | re.I)
_CELL = re.compile(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def _fmt(v: Any) -> set[str]:
    """The textual forms a value may take in an artifact."""
    if isinstance(v, (float, np.floating)):
        f = float(v)
        forms = {repr(f), f"{f:g}", f"{f:.3f}", f"{f:.2f}"}
        if f.is_integer():
            forms.add(str(int(f)))
        return forms
    if isinstance(v, (bool, np.bool_)):
        return {str(bool(v))}
    if isinstance(v, (int, np.integer)):
        return {str(int(v)), f"{float(v)!r}"}
    return {str(v)}


def row_signatures(real: pd.DataFrame) -> list[tuple[int, list[set[str]]]]:
    """For each row: (row id, [set of textual forms per non-missing value])."""
    out = []
    for idx, row in real.iterrows():
        vals = [_fmt(v) for v in row.tolist() if not (v is None or (isinstance(v, float) and np.isnan(v)))]
        out.append((idx, vals))
    return out


def _tokens(text: str) -> set[str]:
    return {t for t in _SPLIT.split(text) if t}


def _scalar_forms(v: Any) -> set[str]:
    """Tokens of one JSON/YAML scalar: the value's own forms and, for strings, its split words."""
    if isinstance(v, str):
        return {v} | _tokens(v)
    return _fmt(v)


def _container_groups(obj: Any, where: str = "$") -> Iterator[tuple[str, set[str]]]:
    """Every dict/list of a parsed document as (path, tokens of its direct scalar members)."""
    if isinstance(obj, dict):
        items = list(obj.items())
        members = [(f"{where}.{k}", v) for k, v in items]
        # keys count too: a record written as {"39": "State-gov"} or a dict keyed by values
        toks: set[str] = set().union(*(_scalar_forms(k) for k, _ in items)) if items else set()
    elif isinstance(obj, list):
        members = [(f"{where}[{i}]", v) for i, v in enumerate(obj)]
        toks = set()
    else:
        return
    for _, v in members:
        if not isinstance(v, (dict, list)) and v is not None:
            toks |= _scalar_forms(v)
    yield where, toks
    for w, v in members:
        yield from _container_groups(v, w)


def _text_groups(text: str) -> Iterator[tuple[str, set[str]]]:
    for ln, line in enumerate(text.splitlines(), 1):
        yield f"line {ln}", _tokens(line)


def _html_groups(text: str) -> Iterator[tuple[str, set[str]]]:
    for i, m in enumerate(_TR.finditer(text), 1):
        cells = _CELL.findall(m.group(0))
        yield f"table row {i}", set().union(*(_tokens(_TAG.sub(" ", c)) for c in cells)) if cells else set()
    # element texts and lines without tags (a record in a <p> or <pre> block)
    for ln, line in enumerate(_TAG.sub("\n", text).splitlines(), 1):
        yield f"text line {ln}", _tokens(line)
    yield from _text_groups(text)


def _svg_groups(text: str) -> Iterator[tuple[str, set[str]]]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return
    for i, el in enumerate(root.iter()):
        parts = [el.text or ""] + ["".join(ch.itertext()) for ch in el]
        yield f"element {i}", set().union(*(_tokens(t) for t in parts))


def artifact_groups(path: Path) -> Iterator[tuple[str, set[str]]]:
    """The groups of tokens of one artifact (see the module docstring); nothing for other files."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            df = pd.read_parquet(path)
        except Exception:  # noqa: BLE001 - unreadable parquet: nothing to scan
            return
        for i, row in enumerate(df.itertuples(index=False)):
            yield f"row {i}", set().union(*(_fmt(v) for v in row if v is not None)) if len(row) else set()
        return
    if suffix not in TEXT_SUFFIXES:
        return
    text = path.read_text(errors="replace")
    if suffix == ".json":
        try:
            yield from _container_groups(json.loads(text))
        except ValueError:
            pass
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            yield from _container_groups(yaml.safe_load(text))
        except yaml.YAMLError:
            pass
    if suffix == ".html":
        yield from _html_groups(text)
    elif suffix == ".svg":
        yield from _svg_groups(text)
        yield from _text_groups(text)
    else:
        yield from _text_groups(text)


def find_real_rows(folder: str | Path, real: pd.DataFrame, exclude: tuple[str, ...] = ()) -> list[tuple[str, str, int]]:
    """Groups of artifacts under ``folder`` that hold every value of a real row.

    Args:
        folder: a sweep or run directory.
        real: the real rows to look for (e.g. the training split).
        exclude: path fragments to skip (e.g. the cache folder).
    Returns:
        ``[(file, where, row id)]`` (``where``: a line, a JSON path, a table
        row); empty when no artifact holds a real record.
    """
    sigs = row_signatures(real)
    hits = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or any(x in str(path) for x in exclude):
            continue
        for where, tokens in artifact_groups(path):
            if len(tokens) < 3:
                continue
            for idx, vals in sigs:
                if vals and all(forms & tokens for forms in vals):
                    hits.append((str(path), where, int(idx)))
    return hits
