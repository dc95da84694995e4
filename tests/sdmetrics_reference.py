"""SDMetrics' own QualityReport: the reference tailbench's fidelity scores are checked against.

Used by ``tests/test_fidelity_sdmetrics.py`` (equality to 1e-9) and
``benchmarks/fidelity_speed.py`` (the speed ratio).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.data.schema import Schema


def sdmetrics_quality_report(
    real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, thresholds: bool = True
) -> Any:
    """SDMetrics' own ``QualityReport`` on one table: the reference our scores are checked against.

    Args:
        real, synthetic: tables with the schema's columns.
        thresholds: False sets both real-trend thresholds to 0 (the all-pairs score).
    Returns:
        The generated ``sdmetrics.reports.QualityReport``.
    Source: sdmetrics.reports.QualityReport (0.32), metadata from :meth:`Schema.to_sdv_metadata`.
    """
    import warnings

    from sdmetrics.reports import QualityReport

    md = schema.to_sdv_metadata().to_dict()
    md = {"tables": {schema.name: md["tables"][schema.name]}}
    rep = QualityReport()
    if not thresholds:
        rep.real_correlation_threshold = 0
        rep.real_association_threshold = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep.generate({schema.name: real}, {schema.name: synthetic}, md, verbose=False)
    return rep
