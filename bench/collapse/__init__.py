"""Model collapse: what a generator loses when it is trained on its own output.

Recursive training on generated data loses the tail first (Shumailov et al.,
"AI models collapse when trained on recursively generated data", Nature 2024);
keeping real data in the loop arrests it (accumulate: Gerstgrasser et al.,
"Is Model Collapse Inevitable?", 2024; a real anchor fraction: Bertrand et al.,
"On the Stability of Iterative Retraining of Generative Models on their own
Data", ICLR 2024). This package measures it on the user's own table and
generator.

Generations. Table 0 is the real training split. The model of round 0 trains
on the real training split and samples table 1; the model of round t trains on
data built from tables 0..t and samples table t+1. Each synthetic table has
``n`` rows. The data a round trains on depends on the mode:

* ``replace``: only the previous generation's synthetic table;
* ``accumulate``: everything so far, real train + every synthetic table;
* ``accumulate_subsample``: ``n`` rows drawn without replacement from that
  accumulated pool;
* ``anchor``: ``int(n (1 - f))`` rows of the previous synthetic table plus
  ``n - int(n (1 - f))`` real rows, either fresh draws each round from the
  real train split (``anchor_pool=train``) or the reference split
  (``reference``, disjoint from the holdout and from train), or one fixed
  subset of train drawn once (``fixed``).

Round 0 is the same for every mode (same seed, same real data), so the loss at
generation 1 (model mismatch and estimation error) is reported apart from the
drift after it (what recursion adds): ``gen1_change = v(1) - v(0)`` and
``drift = v(G) - v(1)`` for every metric ``v``.

Per generation, every table is scored against the real train split: tail
metrics of :mod:`bench.metrics.tails` (rare-category retention by real count bin, with
the lost categories by name; tail mass ratio; variance ratio), SDMetrics-equal
column shapes and pair trends (:func:`bench.metrics.shapes.quality_scores`), TSTR on
the real holdout (:func:`bench.metrics.utility.tstr_trtr`) and the distance to the
closest real training record (:func:`dcr`, SDMetrics' definition). Table 0 is
the real train split scored against itself (retention 1, ratios 1, TSTR =
TRTR), except DCR, whose generation-0 value is that of the real holdout (a
fresh real sample), since every training row is at distance 0 from itself.

Modules: :mod:`bench.collapse.modes` (settings and the training set of each
mode), :mod:`bench.collapse.loop` (the generation loop with its table cache),
:mod:`bench.collapse.scorer` (per-generation metrics and the
generation-1 / drift decomposition), :mod:`bench.collapse.toy` (the 1-D toy
check; ``python -m bench.collapse toy`` prints it). The Hydra task
(``task=collapse``) is :func:`bench.run.collapse.run_collapse`.
"""
