"""``tailbench-score``: score synthetic tables written by any tool, from files.

Usage::

    tailbench-score --real train.csv --synthetic synthetic.csv --schema schema.yaml \\
        [--holdout holdout.csv] [--reference reference.csv] [--out results/score] [--name mydata]

Reads CSV or Parquet files, a schema (a tailbench schema as YAML/JSON, i.e.
the ``schema:`` block of a dataset config, or an SDV Metadata JSON), scores the
synthetic table with :func:`bench.api.evaluate` (the path a sweep cell takes)
and writes ``run.json``, ``metrics.parquet``, ``comparison.md`` and the
report (``report.html``, ``report.md``) into ``--out``. Families that need a
table that was not given are skipped with a line saying why.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from bench import __version__
from bench.api import default_settings, evaluate
from bench.data.schema import Schema
from bench.errors import DataNotFoundError, SchemaError, TailbenchError
from bench.results import write_run
from bench.run.record import package_versions

log = logging.getLogger("tailbench")


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame.

    Raises:
        DataNotFoundError: the file does not exist.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataNotFoundError(f"{str(p)!r} does not exist")
    return pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p)


def read_schema(path: str | Path, name: str | None = None) -> Schema:
    """A schema file: a tailbench schema (YAML or JSON) or an SDV Metadata JSON.

    Raises:
        SchemaError: the file does not exist or is not a schema.
    """
    import yaml

    p = Path(path).expanduser()
    if not p.is_file():
        raise SchemaError(f"schema file {str(p)!r} does not exist")
    raw = yaml.safe_load(p.read_text())
    if not isinstance(raw, dict):
        raise SchemaError(f"schema file {str(p)!r} holds no mapping")
    if "schema" in raw and isinstance(raw["schema"], dict):  # a whole dataset config
        raw = raw["schema"]
    is_sdv = "tables" in raw or any(isinstance(v, dict) and "sdtype" in v for v in (raw.get("columns") or {}).values())
    if is_sdv:
        return Schema.from_sdv_metadata(raw, name=name)
    return Schema.from_dict(raw, name=name or p.stem)


def score_files(
    *,
    real: str | Path,
    synthetic: str | Path,
    schema: str | Path,
    out: str | Path,
    holdout: str | Path | None = None,
    reference: str | Path | None = None,
    name: str | None = None,
    seed: int = 0,
    attacks: bool = True,
) -> dict[str, Any]:
    """Score ``synthetic`` against ``real`` (and the optional holdout and reference) and write the results.

    Returns:
        The run record (also ``out/run.json``).
    Raises:
        TailbenchError: a missing file, a schema that does not match a table.
    """
    out = Path(out)
    sch = read_schema(schema, name=name)
    settings = default_settings()
    if not attacks:
        settings.pop("attacks")
    t0 = time.perf_counter()
    metrics, details = evaluate(
        train=read_table(real),
        synthetic=read_table(synthetic),
        schema=sch,
        holdout=read_table(holdout) if holdout else None,
        reference=read_table(reference) if reference else None,
        settings=settings,
        seed=seed,
    )
    record = {
        "run_id": uuid.uuid4().hex[:12],
        "task": "cell",
        "source": "tailbench-score",
        "tailbench_version": __version__,
        "versions": package_versions(),
        "dataset": sch.name,
        "generator": "external",
        "epsilon": None,
        "seed": seed,
        "status": "ok",
        "error": None,
        "inputs": {
            "real": str(real),
            "synthetic": str(synthetic),
            "holdout": str(holdout) if holdout else None,
            "reference": str(reference) if reference else None,
            "schema": str(schema),
        },
        **details,
    }
    record["timings"]["total_s"] = time.perf_counter() - t0
    rows = metrics.drop(columns=["run_id", "dataset", "generator", "epsilon", "seed"]).to_dict("records")
    write_run(out, record, rows)
    from bench.report.build import build_reports

    build_reports(out, quiet=True)
    return record


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tailbench-score`` console script; 0 on success, 2 on a named error."""
    p = argparse.ArgumentParser(prog="tailbench-score", description=__doc__.splitlines()[0])
    p.add_argument("--real", required=True, help="real training rows (CSV or Parquet): the generator's input")
    p.add_argument("--synthetic", required=True, help="the synthetic table to score (CSV or Parquet)")
    p.add_argument(
        "--schema",
        required=True,
        help="tailbench schema (YAML/JSON: columns, target, bounds, ...) or an SDV Metadata JSON",
    )
    p.add_argument("--holdout", help="real rows the generator never saw (needed for utility and the attacks)")
    p.add_argument("--reference", help="more real non-member rows (needed for the attacks)")
    p.add_argument("--out", default="results/score", help="output folder (default results/score)")
    p.add_argument("--name", help="dataset name in the results (default: the schema's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-attacks", action="store_true", help="skip the privacy attacks")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        rec = score_files(
            real=a.real,
            synthetic=a.synthetic,
            schema=a.schema,
            out=a.out,
            holdout=a.holdout,
            reference=a.reference,
            name=a.name,
            seed=a.seed,
            attacks=not a.no_attacks,
        )
    except TailbenchError as exc:
        print(f"tailbench-score: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    for family, why in (rec.get("skipped") or {}).items():
        print(f"skipped {family}: {why}")
    if rec.get("metric_errors"):
        print("failed families: " + json.dumps(rec["metric_errors"]))
    print(f"wrote {Path(a.out) / 'run.json'}, metrics.parquet, report.html and report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
