"""Tables in their real types: what a user exports and what the cache stores.

Inside tailbench every table is coerced to the schema's canonical dtypes
(:meth:`bench.data.schema.Schema.coerce`: categories as strings, booleans as
``"True"``/``"False"``). A user who scores an exported synthetic table with
another tool against the raw file needs the file's own types back: a
categorical column of years is integers there (``1997``, not ``"1997"``), a
boolean column is ``True``/``False``, a missing value is NaN. The *format* of
each column is read from the raw file once, at load time
(:func:`raw_formats`): its dtype kind, a property of the file rather than of
any record; the DP generators never see it (they format their output from the
public schema only).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.schema import Schema
from bench.errors import ConfigError

FORMATS = ("int", "float", "bool", "datetime", "str")


def raw_formats(raw: pd.DataFrame, schema: Schema) -> dict[str, str]:
    """The format of each schema column in the raw table: ``int``, ``float``, ``bool``, ``datetime`` or ``str``.

    A float column with missing values whose other values are all whole
    numbers is ``int`` (CSV readers make an integer column with a missing value
    float); without missing values a float column stays ``float``.
    """
    out = {}
    for col in schema.columns:
        s = raw[col]
        if pd.api.types.is_bool_dtype(s):
            out[col] = "bool"
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[col] = "datetime"
        elif pd.api.types.is_integer_dtype(s):
            out[col] = "int"
        elif pd.api.types.is_float_dtype(s):
            v = s.dropna().to_numpy()
            whole = len(v) and s.isna().any() and np.all(np.mod(v, 1) == 0)
            out[col] = "int" if whole else "float"
        else:
            out[col] = "str"
    return out


def _to(s: pd.Series, fmt: str) -> pd.Series:
    if fmt == "int":
        num = pd.to_numeric(s, errors="coerce")
        if (num.dropna() % 1 != 0).any():  # a generator wrote fractions: keep them rather than truncate
            return num.astype("float64")
        return num.astype("int64") if not num.isna().any() else num.astype("Int64")
    if fmt == "float":
        return pd.to_numeric(s, errors="coerce").astype("float64")
    if fmt == "bool":
        m = s.map({"True": True, "False": False, True: True, False: False}, na_action="ignore")
        return m.astype("boolean")
    if fmt == "datetime":
        return pd.to_datetime(s, errors="coerce")
    return s.astype(object).where(s.notna(), np.nan)


def restore_types(table: pd.DataFrame, schema: Schema, formats: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``table`` (coerced to ``schema``) with each column in its real type.

    Args:
        table: (m, d) table in the schema's canonical dtypes.
        formats: column -> one of :data:`FORMATS` (:func:`raw_formats`); a
            column without one keeps the canonical dtype, numerical columns
            listed in ``schema.integers`` (when the schema has that field) become integers.
    Returns:
        A new DataFrame; values unchanged, NaN stays NaN (nullable ``Int64`` /
        ``boolean`` where a column has missing values).
    """
    formats = dict(formats or {})
    ints = set(getattr(schema, "integers", []) or [])
    out = {}
    for col in table.columns:
        fmt = formats.get(col) or ("int" if col in ints else None)
        out[col] = _to(table[col], fmt) if fmt else table[col]
    return pd.DataFrame(out, index=table.index)


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` as CSV or Parquet by the file's suffix (``.csv``, ``.parquet``).

    Raises:
        ConfigError: another suffix.
    """
    from bench.results import atomic_write_parquet, atomic_write_text

    path = Path(path)
    if path.suffix.lower() == ".parquet":
        atomic_write_parquet(path, table)
    elif path.suffix.lower() == ".csv":
        atomic_write_text(path, table.to_csv(index=False))
    else:
        raise ConfigError(f"run.save_synthetic writes .csv or .parquet, got {path.name!r}")
    return path


__all__ = ["FORMATS", "raw_formats", "restore_types", "write_table"]
