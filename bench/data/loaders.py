"""Dataset loaders: the embedded ``fair`` table, UCI Adult and user CSV/Parquet.

Each loader returns a :class:`Dataset` (table + schema + fingerprint); splits
are made by :func:`bench.data.splits.make_splits` from the dataset's split
settings, so one split protocol feeds every metric.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.data.export import raw_formats
from bench.data.schema import Schema
from bench.data.splits import Splits, make_splits
from bench.errors import ChecksumError, ConfigError, DataNotFoundError, EmptyTableError, SchemaError

log = logging.getLogger(__name__)

DATA_DIR_ENV = "TAILBENCH_DATA_DIR"

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]
# SHA-256 of the original UCI files (see shared/data/adult/SOURCE.md).
ADULT_SHA256 = {
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
}
ADULT_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"


@dataclass
class Dataset:
    """A loaded table with its schema.

    Attributes:
        name: dataset name.
        frame: the whole table, coerced to the schema; index = row id
            (0..n-1 in load order), used to refer to records without printing them.
        schema: the table's :class:`Schema`.
        split: split settings (fractions and seed) for :meth:`splits`.
        formats: column -> its type in the raw file (``int``, ``float``,
            ``bool``, ``datetime``, ``str``; :func:`bench.data.export.raw_formats`),
            used to export tables in their real types.
    """

    name: str
    frame: pd.DataFrame
    schema: Schema
    split: dict[str, Any] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex) over the coerced table and the schema."""
        h = hashlib.sha256()
        h.update(pd.util.hash_pandas_object(self.frame, index=True).values.tobytes())
        h.update(json.dumps(self.schema.to_dict(), sort_keys=True).encode())
        return h.hexdigest()[:16]

    def splits(self) -> Splits:
        """The fixed, seeded, stratified train/holdout/reference splits."""
        return make_splits(self.frame, self.schema, **self.split)


def _finish(
    name: str, df: pd.DataFrame, schema: Schema, max_rows: int | None, split: Mapping[str, Any] | None
) -> Dataset:
    frame = schema.coerce(df).reset_index(drop=True)
    formats = raw_formats(df, schema)
    if max_rows is not None:
        max_rows = int(max_rows)
        if max_rows < 1:
            raise ConfigError(f"dataset.max_rows must be a positive integer, got {max_rows}")
        if max_rows < len(frame):
            seed = int((split or {}).get("seed", 0))
            frame = _stratified_head(frame, schema.target, max_rows, seed)
    return Dataset(name=name, frame=frame, schema=schema, split=dict(split or {}), formats=formats)


def _stratified_head(frame: pd.DataFrame, target: str | None, n: int, seed: int) -> pd.DataFrame:
    """A seeded subsample of ``n`` rows keeping the target's class shares."""
    if target is None:
        return frame.sample(n=n, random_state=seed).sort_index()
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(frame, train_size=n, random_state=seed, stratify=frame[target])
    return keep.sort_index()


def _schema(schema: Schema | Mapping[str, Any], name: str) -> Schema:
    return schema if isinstance(schema, Schema) else Schema.from_dict(schema, name=name)


def load_dataset(cfg: Mapping[str, Any]) -> Dataset:
    """Build a dataset from its config (``_target_`` = a loader, other keys its arguments).

    Called directly rather than through ``hydra.utils.instantiate`` so that a
    loader's named error reaches the run record unwrapped.

    Raises:
        ConfigError: if ``_target_`` is missing or not importable.
    """
    from hydra.utils import get_method

    d = dict(cfg)
    target = d.pop("_target_", None)
    if not target:
        raise ConfigError("dataset config needs a `_target_` loader, e.g. bench.data.loaders.load_fair")
    try:
        fn = get_method(target)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"dataset loader {target!r} cannot be imported ({exc})") from None
    return fn(**d)


def load_dataset_file(path: str | Path, **overrides: Any) -> Dataset:
    """Load a dataset from its config file outside a Hydra run (benchmarks, scripts, notebooks).

    Interpolations resolve as in a run (``data_dir: ${oc.env:TAILBENCH_DATA_DIR,null}``
    reads the environment variable); ``overrides`` replace top-level keys, e.g.
    ``load_dataset_file("conf/dataset/adult.yaml", max_rows=8000)``.

    Raises:
        FileNotFoundError: no such config file; otherwise as :func:`load_dataset`
        and the loader (e.g. DataNotFoundError naming the data folder).
    """
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(OmegaConf.load(Path(path)), resolve=True)
    cfg.update(overrides)
    return load_dataset(cfg)


# --------------------------------------------------------------------- fair
def load_fair(
    *,
    schema: Mapping[str, Any],
    name: str = "fair",
    max_rows: int | None = None,
    split: Mapping[str, Any] | None = None,
) -> Dataset:
    """The ``fair`` affairs survey bundled with statsmodels (no download).

    6,366 respondents of the 1974 Redbook survey (Fair, 1978, Journal of
    Political Economy 86(1)). A binary target ``had_affair = affairs > 0`` is
    added; ``affairs`` (time spent in affairs) is the sensitive column and is
    excluded from the utility features because the target is derived from it.

    Returns:
        Dataset of shape (6366, 10) (fewer with ``max_rows``).
    Source: ``statsmodels.api.datasets.fair``.
    """
    from statsmodels.datasets import fair

    df = fair.load_pandas().data.copy()
    df["had_affair"] = (df["affairs"] > 0).map({True: "yes", False: "no"})
    return _finish(name, df, _schema(schema, name), max_rows, split)


# -------------------------------------------------------------------- adult
def resolve_data_dir(data_dir: str | os.PathLike | None, dataset: str) -> Path:
    """The directory holding ``dataset``'s files.

    ``data_dir`` (or ``$TAILBENCH_DATA_DIR`` when it is None) may point either at
    the dataset's own folder or at a parent holding a ``<dataset>/`` folder.

    Raises:
        DataNotFoundError: if neither is set.
    """
    raw = data_dir if data_dir not in (None, "") else os.environ.get(DATA_DIR_ENV)
    if raw in (None, ""):
        raise DataNotFoundError(
            f"dataset {dataset!r} needs its files: set dataset.data_dir=<dir> or the environment "
            f"variable {DATA_DIR_ENV} to a folder holding {dataset}/adult.data and "
            f"{dataset}/adult.test (download them from {ADULT_URL}), or pass dataset.download=true"
        )
    base = Path(str(raw)).expanduser()
    return base / dataset if (base / dataset).is_dir() else base


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksums(folder: Path, expected: Mapping[str, str]) -> None:
    """Check each file's SHA-256.

    Raises:
        DataNotFoundError: naming the missing file, where to put it and the URL.
        ChecksumError: naming the file whose hash differs.
    """
    for fname, sha in expected.items():
        path = folder / fname
        if not path.is_file():
            raise DataNotFoundError(
                f"{fname} not found in {str(folder)!r}: put the UCI Adult files adult.data and "
                f"adult.test there (from {ADULT_URL}), point dataset.data_dir or "
                f"${DATA_DIR_ENV} elsewhere, or pass dataset.download=true"
            )
        got = sha256_file(path)
        if got != sha:
            raise ChecksumError(
                f"{str(path)!r} has SHA-256 {got[:16]}..., expected {sha[:16]}... "
                "(the UCI original); the file is modified or truncated"
            )


def download_adult(folder: Path) -> None:
    """Fetch adult.data and adult.test from UCI into ``folder`` (network needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for fname in ADULT_SHA256:
        dest = folder / fname
        if dest.exists():
            continue
        log.info("downloading %s%s", ADULT_URL, fname)
        tmp = dest.with_suffix(dest.suffix + ".part")
        try:
            urllib.request.urlretrieve(ADULT_URL + fname, tmp)
        except OSError as exc:
            raise DataNotFoundError(f"could not download {ADULT_URL + fname}: {exc}") from exc
        tmp.replace(dest)


def load_adult(
    *,
    schema: Mapping[str, Any],
    name: str = "adult",
    data_dir: str | None = None,
    download: bool = False,
    max_rows: int | None = None,
    split: Mapping[str, Any] | None = None,
) -> Dataset:
    """UCI Adult (Census Income), adult.data + adult.test combined: 48,842 rows.

    Format quirks handled: no header, a space after each comma, ``?`` for missing
    values, the first line of adult.test (``|1x3 Cross validator``) and the
    trailing period on its labels.

    Args:
        data_dir: folder with ``adult/`` (or the files themselves); default
            ``$TAILBENCH_DATA_DIR``.
        download: fetch missing files from UCI first (needs network; never in tests).
    Raises:
        DataNotFoundError, ChecksumError: see :func:`verify_checksums`.
    Source: Becker & Kohavi (1996), UCI ML Repository, doi:10.24432/C5XW20.
    """
    if download and data_dir in (None, "") and not os.environ.get(DATA_DIR_ENV):
        data_dir = str(Path.home() / ".cache" / "tailbench" / "data")
    folder = resolve_data_dir(data_dir, "adult")
    if download:
        download_adult(folder)
    verify_checksums(folder, ADULT_SHA256)
    kw = dict(header=None, names=ADULT_COLUMNS, skipinitialspace=True, na_values="?")
    train = pd.read_csv(folder / "adult.data", **kw)
    test = pd.read_csv(folder / "adult.test", skiprows=1, **kw)
    test["income"] = test["income"].str.rstrip(".")
    df = pd.concat([train, test], ignore_index=True)
    return _finish(name, df, _schema(schema, name), max_rows, split)


# ---------------------------------------------------------------------- csv
def load_csv(
    *,
    path: str,
    schema: Mapping[str, Any] | None = None,
    sdv_metadata: str | None = None,
    name: str = "csv",
    max_rows: int | None = None,
    split: Mapping[str, Any] | None = None,
    **read_kwargs: Any,
) -> Dataset:
    """Any user CSV or Parquet file with a schema block or an SDV Metadata JSON.

    Args:
        path: ``.csv`` or ``.parquet`` file.
        schema: mapping as in :class:`Schema` (``columns`` is required).
        sdv_metadata: path to an SDV ``Metadata`` JSON; its sdtypes give the
            column kinds, and keys of ``schema`` (target, bounds...) are added.
    Raises:
        DataNotFoundError: if the file does not exist.
        SchemaError: if neither a schema nor SDV metadata is given, or they do
            not match the file.
        EmptyTableError: if the file has no rows.
    """
    if path in (None, ""):
        raise ConfigError(
            "dataset.path is required for the csv dataset: pass dataset.path=<file.csv or "
            "file.parquet> (and dataset.name=<label> for the results)"
        )
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise DataNotFoundError(f"dataset.path={str(p)!r} does not exist")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            df = pd.read_csv(p, **read_kwargs)
    except pd.errors.EmptyDataError:
        raise EmptyTableError(f"{str(p)!r} is empty") from None
    if sdv_metadata:
        extra = {k: v for k, v in dict(schema or {}).items() if k != "columns"}
        sch = Schema.from_sdv_metadata(sdv_metadata, name=name, **extra)
    elif schema and schema.get("columns"):
        sch = _schema(schema, name)
    else:
        raise SchemaError("the csv dataset needs dataset.schema.columns ({column: kind}) or dataset.sdv_metadata")
    left_out = [c for c in df.columns if c not in sch.columns]
    if left_out:
        log.warning(
            "dataset %r: %d column(s) of %s are not in the schema and are dropped: %s",
            name,
            len(left_out),
            p.name,
            ", ".join(map(str, left_out)),
        )
    return _finish(name, df, sch, max_rows, split)
