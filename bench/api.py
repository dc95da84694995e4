"""Score any synthetic table from Python: the one evaluation path.

``evaluate`` takes pandas DataFrames (the real training rows, a synthetic table
from any tool, and optionally real holdout and reference rows) with a schema,
and returns the long-format metrics and the run record a sweep cell produces,
with the same families and the same values: a sweep cell
(:func:`bench.run.cell.run_cell`) calls it too. Families that need what was
not given are skipped with the reason in the record (``record["skipped"]``):
utility and the attacks need ``holdout``; the attacks also ``reference``; the
shadow-model audit the generator itself.

Example::

    import pandas as pd
    from bench.api import evaluate

    metrics, record = evaluate(train=real_train, holdout=real_holdout, synthetic=synth,
                               schema={"columns": {"age": "numerical", "income": "categorical"},
                                       "target": "income"})
    metrics.set_index(["metric", "subgroup"])["value"]

Same idea as SDMetrics' ``QualityReport.generate(real_data, synthetic_data,
metadata)``; a schema may be tailbench's (a :class:`~bench.data.schema.Schema`
or its dict form) or an SDV ``Metadata`` (its column sdtypes only).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from bench import CONF_DIR
from bench.data.loaders import Dataset
from bench.data.schema import Schema
from bench.data.splits import Splits
from bench.errors import SchemaError
from bench.metrics.context import EvalContext
from bench.metrics.families import score
from bench.results import METRIC_COLUMNS


def default_settings() -> dict[str, Any]:
    """The settings a sweep cell uses by default: every ``evaluation`` block plus the default ``attacks``.

    Read from the package's ``conf/evaluation/default.yaml`` and ``conf/attacks/default.yaml``.
    """
    from omegaconf import OmegaConf

    ev = OmegaConf.to_container(OmegaConf.load(f"{CONF_DIR}/evaluation/default.yaml"), resolve=True)
    at = OmegaConf.to_container(OmegaConf.load(f"{CONF_DIR}/attacks/default.yaml"), resolve=True)
    return {**ev, "attacks": at}


def as_schema(schema: Schema | Mapping[str, Any] | Any, name: str | None = None) -> Schema:
    """A tailbench :class:`Schema` from a Schema, its dict form, or an SDV ``Metadata`` object.

    Raises:
        SchemaError: an unrecognised schema object.
    """
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, Mapping):
        return Schema.from_dict(schema, name=name)
    if hasattr(schema, "to_dict"):  # sdv.metadata.Metadata: column sdtypes only, never its detected ranges
        return Schema.from_sdv_metadata(schema.to_dict(), name=name)
    raise SchemaError(f"schema must be a tailbench Schema, a dict or an SDV Metadata, got {type(schema).__name__}")


def evaluate(
    *,
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema | Mapping[str, Any] | Any,
    holdout: pd.DataFrame | None = None,
    reference: pd.DataFrame | None = None,
    settings: Mapping[str, Any] | None = None,
    seed: int = 0,
    dataset: Dataset | None = None,
    generator_name: str = "external",
    epsilon: float | None = None,
    generator: Any = None,
    generator_factory: Callable[[], Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score one synthetic table against real rows: every metric family a sweep cell runs.

    Args:
        train: (n, d) real training rows (the rows the generator saw: the members).
        synthetic: (m, d) the synthetic table to score.
        schema: a :class:`Schema`, its dict form (``{"columns": {...}, "target": ...}``)
            or an SDV ``Metadata``.
        holdout: real rows the generator never saw (TSTR test set, non-members);
            None skips utility and the attacks.
        reference: more real non-member rows (the attacker's population
            sample); None skips the attacks.
        settings: family section -> settings (default :func:`default_settings`).
        seed: seed of every resampling and attack.
        dataset: the :class:`Dataset` the rows come from (its name and
            fingerprint label the results); default: one built from ``train``.
        generator_name, epsilon: labels of the metric rows.
        generator, generator_factory: the fitted generator and a factory of
            fresh ones (the shadow-model audit refits it); None skips the audit.
    Returns:
        ``(metrics, record)``: the long-format metrics (columns
        :data:`bench.results.METRIC_COLUMNS`, one row per value) and the run
        record's evaluation part (``timings.family_s``, ``metric_errors``,
        ``skipped`` with reasons, and each family's details).
    Raises:
        SchemaError, EmptyTableError: a table that does not match the schema
            (the column and the problem are named).
        ConfigError: an unknown settings section or family.
    """
    sch = as_schema(schema, name=dataset.name if dataset is not None else None)
    tr = sch.coerce(train)
    syn = sch.coerce(synthetic, check_target=False)
    empty = tr.iloc[0:0]
    ho = sch.coerce(holdout, check_target=False) if holdout is not None and len(holdout) else empty
    ref = sch.coerce(reference, check_target=False) if reference is not None and len(reference) else empty
    if dataset is None:
        dataset = Dataset(name=sch.name, frame=tr, schema=sch)
    ctx = EvalContext(
        dataset=dataset,
        splits=Splits(train=tr, holdout=ho, reference=ref),
        synthetic=syn,
        seed=int(seed),
        generator=generator,
        generator_factory=generator_factory,
    )
    t0 = time.perf_counter()
    rows, errors, family_s = score(ctx, dict(settings) if settings is not None else default_settings())
    record: dict[str, Any] = dict(ctx.run_record())
    record["timings"] = {"eval_s": time.perf_counter() - t0, "family_s": family_s}
    if errors:
        record["metric_errors"] = errors
    keys = {
        "run_id": record.get("run_id", uuid.uuid4().hex[:12]),
        "dataset": dataset.name,
        "generator": generator_name,
        "epsilon": float("nan") if epsilon is None else float(epsilon),
        "seed": int(seed),
    }
    metrics = pd.DataFrame([{**keys, **r} for r in rows], columns=METRIC_COLUMNS)
    return metrics, record


__all__ = ["as_schema", "default_settings", "evaluate"]
