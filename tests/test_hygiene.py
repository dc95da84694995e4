"""No artifact of a sweep holds a real record (only the cache may hold rows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from bench.cli import CONF_DIR
from bench.hygiene import find_real_rows

ROOT = Path(__file__).resolve().parent.parent


def _plant(tmp_path: Path, train: pd.DataFrame) -> dict[str, int]:
    """One real row in every artifact format the scanner reads; returns {file: row id}."""
    import json

    import yaml

    rows = {
        name: train.index[i]
        for i, name in enumerate(
            [
                "leak.csv",
                "leak.md",
                "leak_indented.json",
                "leak_list.json",
                "leak.html",
                "leak.parquet",
                "leak.yaml",
                "leak.svg",
            ],
            start=5,
        )
    }

    def values(name: str) -> list:
        return train.loc[rows[name]].tolist()

    (tmp_path / "leak.csv").write_text(train.loc[[rows["leak.csv"]]].to_csv(index=False))
    (tmp_path / "leak.md").write_text("| " + " | ".join(map(str, values("leak.md"))) + " |\n")
    rec = {c: (v.item() if hasattr(v, "item") else v) for c, v in train.loc[rows["leak_indented.json"]].items()}
    (tmp_path / "leak_indented.json").write_text(json.dumps({"run": {"record": rec}}, indent=2))
    (tmp_path / "leak_list.json").write_text(
        json.dumps({"rows": [[(v.item() if hasattr(v, "item") else v) for v in values("leak_list.json")]]}, indent=4)
    )
    cells = "\n".join(f"  <td>{v}</td>" for v in values("leak.html"))
    (tmp_path / "leak.html").write_text(f"<table>\n<tr>\n{cells}\n</tr>\n</table>\n")
    train.loc[[rows["leak.parquet"]]].reset_index(drop=True).to_parquet(tmp_path / "leak.parquet")
    yrec = {c: (v.item() if hasattr(v, "item") else v) for c, v in train.loc[rows["leak.yaml"]].items()}
    (tmp_path / "leak.yaml").write_text(yaml.safe_dump({"example": yrec}))
    texts = "\n".join(f'<text x="0" y="{i}">{v}</text>' for i, v in enumerate(values("leak.svg")))
    (tmp_path / "leak.svg").write_text(f'<svg xmlns="http://www.w3.org/2000/svg">\n{texts}\n</svg>\n')
    return rows


def test_scanner_finds_a_planted_record_in_every_artifact_format(tmp_path, fair):
    """A row written across lines (indented JSON, one <td> per line, YAML, SVG text) is still found."""
    train = fair.splits().train.head(300)
    planted = _plant(tmp_path, train)
    hits = find_real_rows(tmp_path, train)
    found = {(Path(f).name, row) for f, _, row in hits}
    assert found >= set(planted.items()), sorted(set(planted.items()) - found)


def test_scanner_finds_nothing_in_aggregates(tmp_path, fair):
    """Means, counts and column names over the same rows are not a record."""
    train = fair.splits().train.head(300)
    desc = train.describe(include="all").T
    desc.to_csv(tmp_path / "summary.csv")
    (tmp_path / "summary.json").write_text(desc.to_json(indent=2))
    assert find_real_rows(tmp_path, train) == []


def test_sweep_artifacts_hold_no_real_record(tmp_path):
    sweep = tmp_path / "sweep"
    overrides = [
        "generator=identity,independent",  # identity releases training rows; independent their values
        "profile=fast",  # light intervals, 600 rows ...
        "attacks=default",  # ... and every attack artifact (vulnerable records, anonymeter, run.json fields)
        *(f"++attacks.anonymeter.{a}.n_attacks=50" for a in ("singling_out", "linkability", "inference")),
        f"hydra.sweep.dir={sweep}",
        f"cache.dir={tmp_path / 'cache'}",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", "-m", *overrides], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list(sweep.glob("*/run.json"))) == 2
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
