"""Content-addressed cache of splits and synthetic tables, and the one generator identity.

Every synthetic table tailbench stores (a sweep cell's, a collapse generation's,
a shadow game's) is keyed by :func:`generator_key`: the generator's class, its
``get_params()``, the seed, the source of every tailbench module in its class
hierarchy (and of the tailbench modules those use), the tailbench version, and
what else the table depends on (dataset fingerprint, rows sampled, ...). So
re-scoring a sweep with new metrics or attacks never refits a generator, a
killed sweep resumes without repeating finished fits, and editing any of the
generator's code (``dp_base.py`` included) invalidates its tables.
``cache.refresh=true`` forces a refit.

The cache is the only place where tailbench stores row-level data (synthetic
tables; split row ids). Delete it with ``rm -r .cache/tailbench`` (or the
folder set by ``cache.dir`` / ``$TAILBENCH_CACHE_DIR``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
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
                return Splits(
                    train=f.loc[ids["train"]], holdout=f.loc[ids["holdout"]], reference=f.loc[ids["reference"]]
                )
            except (OSError, KeyError, ValueError):
                pass  # unreadable entry: recompute
        sp = dataset.splits()
        atomic_write_json(path, {k: [int(i) for i in getattr(sp, k).index] for k in ("train", "holdout", "reference")})
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


TAILBENCH_PACKAGES = ("bench", "attacks")


def generator_params(gen: Any) -> dict[str, Any]:
    """The generator's constructor arguments: ``get_params()`` (scikit-learn), else read off ``__init__``."""
    if hasattr(gen, "get_params"):
        return dict(gen.get_params())
    params = inspect.signature(type(gen).__init__).parameters
    return {k: getattr(gen, k) for k in params if k != "self" and hasattr(gen, k)}


def code_hash(cls: type) -> str:
    """SHA-256 (first 16 hex) of the source of every tailbench module behind ``cls``.

    The modules: each class in ``cls``'s MRO that lives in tailbench (``bench``,
    ``attacks``) or in ``cls``'s own top-level package (an outside plugin), and
    every tailbench module whose functions or classes those modules use
    (e.g. ``dp_ctgan`` uses ``laplace.laplace_frequencies`` and ``noise.NoiseSource``).
    For a plugin (``cls`` outside tailbench) every ``.py`` file of its package
    counts too, since its mechanism usually spans modules used as modules.
    """
    top = {*TAILBENCH_PACKAGES, cls.__module__.split(".")[0]}

    def ours(mod: str | None) -> bool:
        return bool(mod) and mod.split(".")[0] in top

    mods = {k.__module__ for k in cls.__mro__ if ours(k.__module__)}
    for name in list(mods):
        m = sys.modules.get(name)
        for v in vars(m).values() if m is not None else ():
            vm = getattr(v, "__module__", None)
            if (inspect.isfunction(v) or inspect.isclass(v)) and ours(vm):
                mods.add(vm)
    h = hashlib.sha256()
    plugin = sys.modules.get(cls.__module__.split(".")[0])
    plugin_file = getattr(plugin, "__file__", None) if cls.__module__.split(".")[0] not in TAILBENCH_PACKAGES else None
    if plugin_file and Path(plugin_file).name == "__init__.py":
        for f in sorted(Path(plugin_file).parent.rglob("*.py")):
            h.update(f.read_bytes())
    for name in sorted(mods):
        m = sys.modules.get(name)
        f = getattr(m, "__file__", None)
        h.update(name.encode())
        if f:
            try:
                h.update(Path(f).read_bytes())
            except OSError:
                pass
    return h.hexdigest()[:16]


def generator_identity(gen: Any) -> dict[str, Any]:
    """The generator as data: class path, constructor arguments (seed and verbosity excluded) and code hash."""
    cls = type(gen)
    params = {k: v for k, v in generator_params(gen).items() if k not in ("random_state", "verbose")}
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "params": {
            k: v if isinstance(v, (int, float, str, bool, type(None), list, tuple, dict)) else repr(v)
            for k, v in sorted(params.items())
        },
        "code": code_hash(cls),
    }


def generator_key(kind: str, gen: Any, seed: int, *parts: Any) -> str:
    """The one cache key of a table a generator produced.

    Args:
        kind: what the table is (``"synthetic"`` for a sweep cell, ``"collapse"``,
            ``"shadow"``): tables of different kinds never share a key.
        gen: the (unfitted or fitted) generator.
        seed: the seed it is fitted with.
        parts: everything else the table depends on (dataset fingerprint, rows
            sampled, training-row ids, generation, ...), JSON-able.
    Returns:
        A 20-hex-character key (:func:`content_key`).
    """
    return content_key(kind, generator_identity(gen), int(seed), *parts)


__all__ = ["Cache", "code_hash", "content_key", "generator_identity", "generator_key", "generator_params"]
