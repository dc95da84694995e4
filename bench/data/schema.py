"""Table schema: column kinds, target, sensitive columns and public knowledge.

The schema is the single description of a table that every generator, metric
and attack reads. Public bounds and category domains are *public* knowledge
(declared in the dataset config from documentation, never measured on the
training rows), so that differentially private generators can preprocess
without spending privacy budget on them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import EmptyTableError, SchemaError

KINDS = ("numerical", "categorical", "boolean", "datetime", "id")
ID_LIKE_MIN_ROWS = 50  # a categorical column unique on this many rows or more is an identifier

# SDV sdtypes that map onto our kinds (SDV Metadata JSON import).
_SDV_KIND = {
    "numerical": "numerical",
    "categorical": "categorical",
    "boolean": "boolean",
    "datetime": "datetime",
    "id": "id",
}


@dataclass
class Schema:
    """Description of one table.

    Attributes:
        name: dataset name used in results (``"adult"``).
        columns: ordered mapping column -> kind, one of ``KINDS``.
        target: the label column for TSTR/TRTR utility (categorical or boolean),
            or None when the table has no prediction task.
        sensitive: columns an attacker wants to infer (anonymeter inference).
        quasi_identifiers: columns an attacker may know from elsewhere
            (anonymeter linkability auxiliary columns).
        bounds: public ``{column: (low, high)}`` for numerical columns.
        domains: public ``{column: [categories]}`` for categorical columns,
            stored as strings.
        feature_exclude: columns dropped from utility features (e.g. a column
            the target is derived from).
        constraints: pandas ``DataFrame.eval`` expressions every valid row meets.
        segments: named pandas ``DataFrame.query`` expressions (tail segments).
        integers: numerical columns written as whole numbers (public output
            format; DP generators round exactly these, never reading dtypes
            of the training rows).
        nullable: columns that may be missing (public output format; DP
            generators emit NaN only in these).
        bounds_source: ``{column: citation}`` for the public ``bounds`` and
            the coarse ``dp_bounds`` ranges: where each value comes from.
        dp_bounds: ``{column: (low, high)}`` coarse public ranges of
            numerical columns without a documented bound; a DP generator
            releases the column's bounds inside this range with the
            exponential mechanism on a share of its budget
            (:mod:`bench.generators.dp_bounds`). A column is in ``bounds`` or
            in ``dp_bounds``, not both.
    """

    name: str
    columns: dict[str, str]
    target: str | None = None
    sensitive: list[str] = field(default_factory=list)
    quasi_identifiers: list[str] = field(default_factory=list)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    domains: dict[str, list[str]] = field(default_factory=dict)
    feature_exclude: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    segments: dict[str, str] = field(default_factory=dict)
    integers: list[str] = field(default_factory=list)
    nullable: list[str] = field(default_factory=list)
    bounds_source: dict[str, str] = field(default_factory=dict)
    dp_bounds: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.columns = dict(self.columns)
        for col, kind in self.columns.items():
            if kind not in KINDS:
                raise SchemaError(f"column {col!r} has kind {kind!r}; expected one of {', '.join(KINDS)}")
        names = set(self.columns)
        if self.target is not None and self.target not in names:
            raise SchemaError(f"target column {self.target!r} is not among the schema's columns")
        if self.target is not None and self.columns[self.target] not in ("categorical", "boolean"):
            raise SchemaError(
                f"target column {self.target!r} has kind {self.columns[self.target]!r}; "
                "tailbench's utility needs a categorical or boolean target"
            )
        for attr in ("sensitive", "quasi_identifiers", "feature_exclude"):
            cols = list(getattr(self, attr) or [])
            missing = [c for c in cols if c not in names]
            if missing:
                raise SchemaError(f"{attr} lists unknown column(s) {missing}")
            setattr(self, attr, cols)
        self.bounds = {col: self._interval("bounds", col, b) for col, b in (self.bounds or {}).items()}
        self.dp_bounds = {col: self._interval("dp_bounds", col, b) for col, b in (self.dp_bounds or {}).items()}
        both = sorted(set(self.bounds) & set(self.dp_bounds))
        if both:
            raise SchemaError(
                f"column(s) {both} have both public bounds and dp_bounds; declare one: bounds "
                "when a documented limit exists, dp_bounds (a coarse range) when it does not"
            )
        self.integers = self._column_list("integers", self.integers, ("numerical",))
        self.nullable = self._column_list(
            "nullable", self.nullable, ("numerical", "categorical", "boolean", "datetime")
        )
        sources = {}
        for col, src in (self.bounds_source or {}).items():
            if col not in self.bounds and col not in self.dp_bounds:
                raise SchemaError(f"bounds_source given for column {col!r}, which has no bounds or dp_bounds")
            if not isinstance(src, str) or not src.strip():
                raise SchemaError(f"bounds_source for column {col!r} must be a non-empty citation string")
            sources[col] = src.strip()
        self.bounds_source = sources
        domains = {}
        for col, d in (self.domains or {}).items():
            if col not in names:
                raise SchemaError(f"domain given for unknown column {col!r}")
            if self.columns[col] not in ("categorical", "boolean"):
                raise SchemaError(f"domain given for column {col!r} of kind {self.columns[col]!r}")
            if isinstance(d, (str, bytes)) or not hasattr(d, "__iter__") or len(list(d)) == 0:
                raise SchemaError(f"domain for column {col!r} must be a non-empty list")
            domains[col] = [_category_str(v) for v in d]
        self.domains = domains
        self.constraints = list(self.constraints or [])
        self.segments = dict(self.segments or {})

    def _interval(self, attr: str, col: str, b: Any) -> tuple[float, float]:
        """``(low, high)`` of a ``bounds`` / ``dp_bounds`` entry (SchemaError naming ``attr`` and ``col``)."""
        if col not in self.columns:
            raise SchemaError(f"{attr} given for unknown column {col!r}")
        if self.columns[col] != "numerical":
            raise SchemaError(f"{attr} given for column {col!r} of kind {self.columns[col]!r}")
        try:
            lo, hi = float(b[0]), float(b[1])
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise SchemaError(f"{attr} for column {col!r} must be [low, high], got {b!r}") from exc
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise SchemaError(f"{attr} for column {col!r} must be finite with low < high, got {b!r}")
        return lo, hi

    def _column_list(self, attr: str, cols: Any, kinds: tuple[str, ...]) -> list[str]:
        """Validate a list of column names of the given kinds (SchemaError naming ``attr`` and the column)."""
        if isinstance(cols, (str, bytes)):
            raise SchemaError(f"{attr} must be a list of column names, got {cols!r}")
        out = []
        for col in list(cols or []):
            if col not in self.columns:
                raise SchemaError(f"{attr} lists unknown column {col!r}")
            if self.columns[col] not in kinds:
                raise SchemaError(
                    f"{attr} lists column {col!r} of kind {self.columns[col]!r}; "
                    f"{attr} takes {' or '.join(kinds)} columns"
                )
            out.append(str(col))
        return out

    # ----------------------------------------------------------------- views
    def of_kind(self, *kinds: str) -> list[str]:
        """Columns whose kind is one of ``kinds``, in table order."""
        return [c for c, k in self.columns.items() if k in kinds]

    @property
    def numerical(self) -> list[str]:
        return self.of_kind("numerical")

    @property
    def categorical(self) -> list[str]:
        """Categorical and boolean columns."""
        return self.of_kind("categorical", "boolean")

    @property
    def datetime(self) -> list[str]:
        return self.of_kind("datetime")

    @property
    def modelled(self) -> list[str]:
        """Columns a generator models (everything but ``id`` columns)."""
        return [c for c, k in self.columns.items() if k != "id"]

    # ------------------------------------------------------------- coercion
    def coerce(self, df: pd.DataFrame, check_target: bool = True) -> pd.DataFrame:
        """Check ``df`` against the schema and cast it to canonical dtypes.

        Numerical -> float64 (integers kept as int64 when there is no NaN),
        categorical -> object holding strings (NaN kept), boolean -> object
        strings ``"True"``/``"False"``, datetime -> ``datetime64[ns]``.

        Args:
            df: table with at least the schema's columns (extra columns are dropped).
            check_target: require at least 2 target classes (True for real
                tables; a synthetic table that lost a class is still scored,
                and utility records the problem).
        Returns:
            A new DataFrame with exactly the schema's columns, in schema order.
        Raises:
            EmptyTableError: if ``df`` has no rows.
            SchemaError: naming the column that is missing, all-NaN, or not
                convertible to its declared kind.
        """
        if len(df.columns) == 0 or len(df) == 0:
            raise EmptyTableError(f"dataset {self.name!r}: the table has no rows")
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise SchemaError(
                f"dataset {self.name!r}: column(s) {missing} declared in the schema are not in "
                f"the table (table columns: {list(df.columns)[:20]})"
            )
        out = {}
        for col, kind in self.columns.items():
            s = df[col]
            if s.isna().all():
                raise SchemaError(f"dataset {self.name!r}: column {col!r} is entirely missing (all NaN)")
            if kind == "numerical":
                num = pd.to_numeric(s, errors="coerce")
                bad = num.isna() & s.notna()
                if bad.any():  # the value itself is not printed: it may be a real record's
                    raise SchemaError(
                        f"dataset {self.name!r}: column {col!r} is declared numerical but holds "
                        f"{int(bad.sum())} non-numeric value(s), first at row {bad.idxmax()!r}"
                    )
                if pd.api.types.is_bool_dtype(num):
                    num = num.astype(float)
                out[col] = (
                    num.astype("int64")
                    if (pd.api.types.is_integer_dtype(num) and not num.isna().any())
                    else num.astype("float64")
                )
            elif kind in ("categorical", "boolean", "id"):
                out[col] = s.map(_category_str, na_action="ignore").astype(object)
                n_valid = int(s.notna().sum())
                if kind == "categorical" and n_valid >= ID_LIKE_MIN_ROWS and s.nunique() == n_valid:
                    raise SchemaError(
                        f"dataset {self.name!r}: column {col!r} is declared categorical but every one "
                        f"of its {n_valid} values is unique: it looks like an identifier; declare its "
                        "kind as id (not modelled) or drop it"
                    )
            elif kind == "datetime":
                dt = pd.to_datetime(s, errors="coerce")
                bad = dt.isna() & s.notna()
                if bad.any():
                    raise SchemaError(
                        f"dataset {self.name!r}: column {col!r} is declared datetime but "
                        f"{int(bad.sum())} value(s) do not parse as dates, first at row {bad.idxmax()!r}"
                    )
                out[col] = dt
        result = pd.DataFrame(out, index=df.index)
        if check_target and self.target is not None:
            n_classes = result[self.target].nunique(dropna=True)
            if n_classes < 2:
                raise SchemaError(
                    f"dataset {self.name!r}: target column {self.target!r} has {n_classes} class(es); "
                    "utility needs at least 2"
                )
        return result

    # -------------------------------------------------------------- io
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], name: str | None = None) -> Schema:
        """Build a schema from a plain mapping (a Hydra ``schema:`` block).

        Raises:
            SchemaError: if ``columns`` is missing or a key is unknown.
        """
        d = dict(d)
        if "columns" not in d or not d["columns"]:
            raise SchemaError("schema needs a non-empty 'columns' mapping {column: kind}")
        allowed = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - allowed
        if unknown:
            raise SchemaError(f"schema has unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        if name is not None:
            d.setdefault("name", name)
        if "name" not in d:
            d["name"] = "table"
        d["columns"] = {str(k): str(v) for k, v in dict(d["columns"]).items()}
        d["bounds"] = {k: tuple(v) for k, v in dict(d.get("bounds") or {}).items()}
        d["domains"] = {k: list(v) for k, v in dict(d.get("domains") or {}).items()}
        d["dp_bounds"] = {k: tuple(v) for k, v in dict(d.get("dp_bounds") or {}).items()}
        d["bounds_source"] = {str(k): v for k, v in dict(d.get("bounds_source") or {}).items()}
        for key in ("sensitive", "quasi_identifiers", "feature_exclude", "constraints"):
            d[key] = list(d.get(key) or [])
        for key in ("integers", "nullable"):  # a bare string is left for __post_init__ to refuse by name
            v = d.get(key) or []
            d[key] = v if isinstance(v, str) else list(v)
        d["segments"] = dict(d.get("segments") or {})
        return cls(**d)

    @classmethod
    def from_sdv_metadata(
        cls, metadata: str | Path | Mapping[str, Any], name: str | None = None, **extra: Any
    ) -> Schema:
        """Build a schema from an SDV ``Metadata`` JSON (file path or dict).

        Only column sdtypes are read; SDV's detected min/max or category lists
        are never taken as public knowledge. Unknown sdtypes (PII such as
        ``email``) become ``id`` columns, which generators do not model.

        Raises:
            SchemaError: if the JSON has no table or the file does not exist.
        """
        if isinstance(metadata, (str, Path)):
            path = Path(metadata)
            if not path.exists():
                raise SchemaError(f"SDV metadata file {str(path)!r} does not exist")
            metadata = json.loads(path.read_text())
        md = dict(metadata)
        if "tables" in md:
            if not md["tables"]:
                raise SchemaError("SDV metadata has no tables")
            tname, table = next(iter(md["tables"].items()))
        else:
            tname, table = name or "table", md
        cols = table.get("columns")
        if not cols:
            raise SchemaError(f"SDV metadata table {tname!r} has no columns")
        kinds = {c: _SDV_KIND.get(spec.get("sdtype", ""), "id") for c, spec in cols.items()}
        return cls.from_dict({"columns": kinds, **extra}, name=name or tname)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (no data values other than public bounds/domains)."""
        return {
            "name": self.name,
            "columns": dict(self.columns),
            "target": self.target,
            "sensitive": list(self.sensitive),
            "quasi_identifiers": list(self.quasi_identifiers),
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "domains": {k: list(v) for k, v in self.domains.items()},
            "feature_exclude": list(self.feature_exclude),
            "constraints": list(self.constraints),
            "segments": dict(self.segments),
            "integers": list(self.integers),
            "nullable": list(self.nullable),
            "bounds_source": dict(self.bounds_source),
            "dp_bounds": {k: list(v) for k, v in self.dp_bounds.items()},
        }

    def to_sdv_metadata(self) -> Any:
        """An ``sdv.metadata.Metadata`` built from the declared kinds only.

        Built from the schema instead of ``Metadata.detect_from_dataframes`` so
        nothing measured on the real rows is presented as metadata. ``id``
        columns are left out (not modelled).
        """
        from sdv.metadata import Metadata

        columns = {}
        for col, kind in self.columns.items():
            if kind == "numerical":
                columns[col] = {"sdtype": "numerical"}
            elif kind == "datetime":
                columns[col] = {"sdtype": "datetime"}
            elif kind == "id":
                continue  # identifiers are not modelled; generators fill them after sampling
            else:
                columns[col] = {"sdtype": "categorical"}
        return Metadata.load_from_dict({"tables": {self.name: {"columns": columns}}, "METADATA_SPEC_VERSION": "V1"})


def _category_str(v: Any) -> str:
    """Canonical string for a category: 1.0 -> "1", True -> "True"."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)
