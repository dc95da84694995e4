"""No artifact of a sweep holds a real record (only the cache may hold rows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from bench.cli import CONF_DIR
from bench.hygiene import find_real_rows

ROOT = Path(__file__).resolve().parent.parent


def test_scanner_finds_a_planted_record(tmp_path, fair):
    train = fair.splits().train.head(300)
    (tmp_path / "leak.csv").write_text(train.iloc[[7]].to_csv(index=False))
    (tmp_path / "leak.md").write_text("| " + " | ".join(map(str, train.iloc[42].tolist())) + " |\n")
    hits = find_real_rows(tmp_path, train)
    assert {(Path(f).name, row) for f, _, row in hits} >= {("leak.csv", train.index[7]),
                                                           ("leak.md", train.index[42])}


def test_sweep_artifacts_hold_no_real_record(tmp_path):
    sweep = tmp_path / "sweep"
    overrides = ["generator=identity,independent,gaussian_copula", "dataset.max_rows=600",
                 f"hydra.sweep.dir={sweep}", f"cache.dir={tmp_path / 'cache'}"]
    proc = subprocess.run([sys.executable, "-m", "bench.cli", "-m", *overrides], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list(sweep.glob("*/run.json"))) == 3
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["dataset.max_rows=600"])
    train = instantiate(cfg.dataset, _convert_="all").splits().train
    # identity releases training rows as its "synthetic" table: if any artifact
    # printed synthetic or real rows, the scan would find them here
    assert find_real_rows(sweep, train) == []
    assert find_real_rows(tmp_path, train, exclude=("cache",)) == []
    # stdout (the printed table and logs) holds none either
    (tmp_path / "stdout.log").write_text(proc.stdout + proc.stderr)
    assert find_real_rows(tmp_path, train, exclude=("cache", "sweep")) == []
