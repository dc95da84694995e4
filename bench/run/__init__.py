"""The run layer: one job of a sweep (a benchmark cell or a collapse run), its record and its cache.

* :mod:`bench.run.cell`: fit, sample and score one cell (``task=cell``);
* :mod:`bench.run.collapse`: the recursive-generation job (``task=collapse``);
* :mod:`bench.run.record`: versions, config hash, failures as rows, deadlines;
* :mod:`bench.run.cache`: splits and synthetic tables by content, and the one
  generator identity every cache key uses.

:mod:`bench.cli` is the thin Hydra entry point that dispatches on ``task``.
"""
