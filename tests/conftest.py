"""Shared fixtures: the embedded fair table and UCI Adult from $TAILBENCH_DATA_DIR."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings
from pathlib import Path

# pytest-xdist workers share the cores: one thread each for torch, BLAS, OpenMP, polars and numba, or the
# workers' thread pools oversubscribe the cores (on 2 cores, four test files took 151 s with the libraries'
# default threads and 131 s with one). Set before those libraries are imported; subprocesses inherit it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_var] = "1"
    os.environ["POLARS_MAX_THREADS"] = "1"

import pytest  # noqa: E402
import yaml  # noqa: E402

from bench.data.loaders import DATA_DIR_ENV, load_adult, load_fair  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"

# Tests never touch the user's cache: a fresh folder per test session, removed at exit
# (it holds synthetic tables).
_CACHE = tempfile.mkdtemp(prefix="tailbench-cache-")
os.environ["TAILBENCH_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

if os.environ.get("PYTEST_XDIST_WORKER"):  # in case a plugin imported NumPy or torch before the variables were set
    from bench.run.record import set_threads

    set_threads(1)

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)


def dataset_cfg(name: str, **overrides) -> dict:
    """The dataset config file as keyword arguments for its loader."""
    cfg = yaml.safe_load((CONF / "dataset" / f"{name}.yaml").read_text())
    cfg.pop("_target_", None)
    if "data_dir" in cfg:
        cfg["data_dir"] = None
    cfg.update(overrides)
    return cfg


def adult_data_dir() -> str | None:
    """$TAILBENCH_DATA_DIR, or ../shared/data beside the checkout when it exists."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return env
    guess = ROOT.parent / "shared" / "data"
    return str(guess) if (guess / "adult" / "adult.data").exists() else None


@pytest.fixture(scope="session")
def adult_dir() -> str:
    d = adult_data_dir()
    if d is None:
        msg = f"UCI Adult not available: set {DATA_DIR_ENV} to the folder holding adult/"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{msg} (CI=true: the Adult tests must run in CI, not skip)")
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session")
def adult(adult_dir):
    """Full UCI Adult (48,842 rows)."""
    return load_adult(**dataset_cfg("adult", data_dir=adult_dir))


@pytest.fixture(scope="session")
def adult_small(adult_dir):
    """UCI Adult capped at 4,000 rows (stratified)."""
    return load_adult(**dataset_cfg("adult", data_dir=adult_dir, max_rows=4000))


@pytest.fixture(scope="session")
def fair():
    return load_fair(**dataset_cfg("fair"))
