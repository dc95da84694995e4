"""Fixtures of the plugin's tests: small real tables from tailbench's dataset configs.

The plugin must be installed (``make install`` does it): the entry-point and
Hydra tests check exactly that. Tables: ``fair`` (embedded in statsmodels)
and UCI Adult from ``$TAILBENCH_DATA_DIR`` (skipped with a message when absent).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest

import bench
from bench.data.loaders import DATA_DIR_ENV, load_dataset_file
from bench.data.schema import Schema

CONF = Path(bench.__file__).resolve().parent.parent / "conf"
if "TAILBENCH_CACHE_DIR" not in os.environ:  # a fresh cache per session, removed at exit
    os.environ["TAILBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="tailbench-mbi-cache-")
    atexit.register(shutil.rmtree, os.environ["TAILBENCH_CACHE_DIR"], ignore_errors=True)
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

#: settings that keep a fit to a few seconds (contract, not quality)
FAST = {"iters": 50}
FAST_AIM = {"iters": 50, "round_iters": 20, "max_rounds": 2}


def sub_schema(schema: Schema, cols: list[str]) -> Schema:
    """The same public knowledge restricted to ``cols`` (small models fit in seconds).

    Every per-column field (a mapping keyed by column, a list of columns) is
    filtered to ``cols``; constraints and segments (expressions) are dropped.
    """
    keep = set(cols)
    d = {}
    for key, value in schema.to_dict().items():
        if key in ("constraints", "segments"):
            d[key] = [] if key == "constraints" else {}
        elif isinstance(value, dict):
            d[key] = {c: v for c, v in value.items() if c in keep}
        elif isinstance(value, list):
            d[key] = [c for c in value if c in keep]
        elif key == "target":
            d[key] = value if value in keep else None
        else:
            d[key] = value
    return Schema.from_dict(d)


def adult_data_dir() -> str | None:
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return env
    guess = CONF.parent.parent / "shared" / "data"
    return str(guess) if (guess / "adult" / "adult.data").exists() else None


@pytest.fixture(scope="session")
def fair():
    return load_dataset_file(CONF / "dataset" / "fair.yaml")


@pytest.fixture(scope="session")
def fair_small(fair):
    """1,200 rows of fair, split as in tailbench's contract test; the training split (720 rows)."""
    from bench.data.loaders import Dataset

    frame = fair.frame.sample(n=1200, random_state=0).sort_index()
    return Dataset(name="fair", frame=frame, schema=fair.schema, split=fair.split).splits().train


@pytest.fixture(scope="session")
def adult_small():
    d = adult_data_dir()
    if d is None:
        pytest.skip(f"UCI Adult not available: set {DATA_DIR_ENV} to the folder holding adult/")
    return load_dataset_file(CONF / "dataset" / "adult.yaml", data_dir=d, max_rows=2000)
