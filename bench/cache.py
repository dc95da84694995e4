"""Content-addressed cache of splits and synthetic tables.

A synthetic table is keyed by the dataset fingerprint, the resolved generator
config, the seed, the number of rows sampled, the tailbench version and a hash
of the generator's source file, so
re-scoring a sweep with new metrics or attacks never refits a generator, and a
killed sweep resumes without repeating finished fits. ``cache.refresh=true``
forces a refit.

The cache is the only place where tailbench stores row-level data (synthetic
tables; split row ids). Delete it with ``rm -r .cache/tailbench`` (or the
folder set by ``cache.dir`` / ``$TAILBENCH_CACHE_DIR``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from bench import __version__
from bench.data.splits import Splits
from bench.results import atomic_write_json, atomic_write_parquet


def content_key(*parts: Any) -> str:
    """SHA-256 (first 20 hex) of the JSON form of ``parts`` plus the tailbench version."""
    blob = json.dumps([__version__, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


class Cache:
    """A folder of cached splits and synthetic tables.

    Args:
        root: cache folder (created on first write).
        refresh: ignore existing entries (they are overwritten).
        enabled: when False, nothing is read or written.
    """

    def __init__(self, root: str | Path, refresh: bool = False, enabled: bool = True) -> None:
        self.root = Path(root)
        self.refresh = refresh
        self.enabled = enabled

    # ------------------------------------------------------------- splits
    def splits(self, dataset) -> Splits:
        """The dataset's splits, from cached row ids when present."""
        if not self.enabled:
            return dataset.splits()
        key = content_key("splits", dataset.fingerprint, dataset.split)
        path = self.root / "splits" / f"{key}.json"
        if path.exists() and not self.refresh:
            try:
                ids = json.loads(path.read_text())
                f = dataset.frame
                return Splits(train=f.loc[ids["train"]], holdout=f.loc[ids["holdout"]],
                              reference=f.loc[ids["reference"]])
            except (OSError, KeyError, ValueError):
                pass  # unreadable entry: recompute
        sp = dataset.splits()
        atomic_write_json(path, {k: [int(i) for i in getattr(sp, k).index]
                                 for k in ("train", "holdout", "reference")})
        return sp

    # ---------------------------------------------------------- synthetic
    def synthetic_path(self, key: str) -> Path:
        return self.root / "synthetic" / f"{key}.parquet"

    def load_synthetic(self, key: str) -> tuple[pd.DataFrame, dict[str, Any]] | None:
        """``(table, meta)`` for ``key``, or None on a miss (or when refreshing)."""
        if not self.enabled or self.refresh:
            return None
        path = self.synthetic_path(key)
        meta_path = path.with_suffix(".json")
        if not (path.exists() and meta_path.exists()):
            return None
        try:
            return pd.read_parquet(path), json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return None

    def store_synthetic(self, key: str, table: pd.DataFrame, meta: dict[str, Any]) -> None:
        """Write the table, then its meta (the meta file marks a complete entry)."""
        if not self.enabled:
            return
        path = self.synthetic_path(key)
        atomic_write_parquet(path, _parquet_safe(table))
        atomic_write_json(path.with_suffix(".json"), meta)


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].astype(object).where(out[c].isna(), out[c].astype(str))
    return out


def fit_key(dataset_fingerprint: str, generator_cfg: dict[str, Any], seed: int, n: int,
            code: str = "") -> str:
    """Cache key of one fitted-and-sampled synthetic table.

    Args:
        code: a hash of the generator's source (see ``bench.cli.code_hash``).
    """
    cfg = {k: v for k, v in generator_cfg.items() if k not in ("verbose",)}
    return content_key("synthetic", dataset_fingerprint, cfg, int(seed), int(n), code)


__all__ = ["Cache", "content_key", "fit_key"]
