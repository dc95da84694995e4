"""Replace-one privacy accounting for DP-SGD and its composition with pure-epsilon releases.

Neighbouring datasets differ in one record *replaced* by another ("bounded"
DP): the number of rows n is public, so a synthetic table of n rows, a Poisson
sampling rate q = batch_size / n and a step count derived from n reveal
nothing. Every tailbench DP generator states its epsilon under this relation.

DP-SGD with Poisson sampling at rate q, per-sample clipping at C and Gaussian
noise of standard deviation sigma * C on the clipped sum is, per step, the
subsampled Gaussian mechanism. Under replace-one the worst case pair is
``q N(-C, (sigma C)^2) + (1 - q) N(0, (sigma C)^2)`` against
``q N(+C, ...) + (1 - q) N(0, ...)`` (the replaced record's clipped gradient
points one way, its replacement's the other); at q = 1 it is the Gaussian
mechanism with sensitivity 2C. Google's ``dp-accounting`` builds the privacy
loss distribution (PLD) of exactly this pair
(``privacy_loss_distribution.from_gaussian_mechanism(...,
neighboring_relation=REPLACE_ONE)``), composes it over the steps, and composes
it with the pure-epsilon releases a generator makes besides DP-SGD (bounds,
category frequencies) through their worst-case PLD
(``from_privacy_parameters(epsilon, 0)``: every epsilon-DP mechanism is a
post-processing of randomized response with that epsilon, Kairouz, Oh and
Viswanath 2015). ``dp-accounting`` 0.6.0's ``PLDAccountant`` has no event for
a generic (epsilon, 0) mechanism and refuses Laplace events under REPLACE_ONE,
so the composition uses the library's PLD objects directly; without pure
parts the result equals ``PLDAccountant(REPLACE_ONE)`` on
``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)),
steps)`` (tested).

Cost: with 8,850 steps at q = 0.017, calibrating sigma takes 0.5 s at
epsilon 1, 3 s at 16 and 6 s at 100 (a coarse search, then a bracket on the
reported grid; 15-75 s at epsilon 100-1000 before the coarse search);
epsilon 10,000 needed more than 8 GB for the PLD's FFT and was killed, so
epsilon above :data:`PLD_MAX_EPSILON` is
refused (:class:`~bench.errors.ConfigError` in the generators).

Source: Abadi et al. 2016 (DP-SGD); Koskela, Jälkö and Honkela 2020 and
Doroshenko et al. 2022 (PLD accounting, "connect the dots"); Google
``dp-accounting`` 0.6.0 (``dp_accounting.pld``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from bench.errors import ConfigError

NEIGHBOURING = "replace-one"
ACCOUNTANT = "pld"
PLD_MAX_EPSILON = 1000.0
PLD_DISCRETIZATION = 1e-4  # dp-accounting's default value_discretization_interval: every reported epsilon
SEARCH_DISCRETIZATION = 1e-2  # the coarsest grid of the calibration's search (see calibrate_noise_multiplier)
DELTA_RATIONALE = (
    "1/n^2: (epsilon, delta)-DP allows a mechanism that publishes each record with probability "
    "delta; n*delta = 1/n is the expected number published"
)
PURE_DELTA_RATIONALE = "0: pure epsilon-DP (Laplace and exponential mechanisms), no delta"
TUNED_HERE = "tuning: hyperparameters chosen on this dataset"


def default_delta(n: int) -> float:
    """The default delta of a DP-SGD generator trained on n rows: ``1 / n^2`` (see :data:`DELTA_RATIONALE`)."""
    return 1.0 / float(n) ** 2


def check_tuned_on(tuned_on: object) -> str:
    """``tuned_on`` as a non-empty string (``"none"`` = defaults from the literature); ConfigError otherwise."""
    if not isinstance(tuned_on, str) or not tuned_on.strip():
        raise ConfigError(
            "generator.tuned_on must name the dataset the hyperparameters were chosen on "
            f"(or 'none' for defaults from the literature), got {tuned_on!r}"
        )
    return tuned_on.strip()


def tuning_scope(tuned_on: str, dataset: str) -> tuple[str, list[str]]:
    """``(tuning_source, outside)`` of a privacy record.

    Hyperparameters chosen by looking at the dataset being released spend
    privacy that no accountant counts (Papernot & Steinke, ICLR 2022): then
    ``outside`` holds :data:`TUNED_HERE` and the scope is partial.
    """
    if tuned_on == "none":
        return "none: defaults from the literature, not tuned on any dataset", []
    if tuned_on == dataset:
        return f"{tuned_on}: chosen on the dataset being released", [TUNED_HERE]
    return f"{tuned_on}: chosen on a different public dataset than {dataset!r}", []


def accountant_label() -> str:
    """The ``accountant`` field of a DP-SGD generator's privacy record, with the library version."""
    from importlib.metadata import version

    return f"pld (dp-accounting {version('dp-accounting')}, replace-one)"


def _gaussian_pld(noise_multiplier: float, sample_rate: float, steps: int, discretization: float):
    from dp_accounting import privacy_accountant
    from dp_accounting.pld import privacy_loss_distribution as pld

    return pld.from_gaussian_mechanism(
        standard_deviation=float(noise_multiplier),
        sampling_prob=float(sample_rate),
        neighboring_relation=privacy_accountant.NeighboringRelation.REPLACE_ONE,
        value_discretization_interval=float(discretization),
    ).self_compose(int(steps))


def replace_one_epsilon(
    noise_multiplier: float,
    sample_rate: float,
    steps: int,
    delta: float,
    pure_epsilons: Sequence[float] = (),
    *,
    discretization: float = PLD_DISCRETIZATION,
) -> float:
    """Epsilon at ``delta`` of DP-SGD (and pure-epsilon releases) under replace-one neighbours.

    Args:
        noise_multiplier: sigma, the noise standard deviation in units of the
            clipping norm C (> 0).
        sample_rate: Poisson sampling probability q in (0, 1].
        steps: number of noisy steps that ran (>= 0).
        delta: target delta in (0, 1).
        pure_epsilons: epsilons of other (epsilon, 0)-DP releases of the same
            fit, composed with DP-SGD in the PLD.
        discretization: the PLD's privacy-loss grid step
            (``value_discretization_interval``); every reported epsilon uses
            :data:`PLD_DISCRETIZATION`, the library's default. A coarser grid
            is faster and, being pessimistic, never reads lower.
    Returns:
        Epsilon (an upper bound: the PLD is pessimistic), ``inf`` if sigma is 0.
    Source: Google ``dp-accounting`` 0.6.0 (module docstring).
    """
    from dp_accounting.pld import common
    from dp_accounting.pld import privacy_loss_distribution as pld

    if noise_multiplier <= 0:
        return math.inf
    dist = _gaussian_pld(noise_multiplier, sample_rate, steps, discretization) if steps > 0 else pld.identity()
    for e in pure_epsilons:
        if e > 0:
            pure = common.DifferentialPrivacyParameters(float(e), 0.0)
            dist = dist.compose(pld.from_privacy_parameters(pure, value_discretization_interval=float(discretization)))
    return float(dist.get_epsilon_for_delta(float(delta)))


@functools.lru_cache(maxsize=256)
def calibrate_noise_multiplier(
    target_epsilon: float,
    delta: float,
    sample_rate: float,
    steps: int,
    pure_epsilons: tuple[float, ...] = (),
    rel_tol: float = 1e-3,
) -> float:
    """The smallest sigma (to ``rel_tol``) whose :func:`replace_one_epsilon` is at most ``target_epsilon``.

    Two bisections on log sigma. The first runs on a coarse PLD grid (step
    ``target / 1000`` within [:data:`PLD_DISCRETIZATION`,
    :data:`SEARCH_DISCRETIZATION`]: up to 80 times cheaper per evaluation and
    a few tenths of a percent off; for targets up to 0.1 it is the reported
    grid and the first bisection decides alone). The second brackets its
    answer within a factor ``1 + 2 rel_tol`` (widening geometrically while
    needed) and bisects again on the reported grid
    (:data:`PLD_DISCRETIZATION`). Only the second decides: the returned sigma
    is the upper end of a bracket ``[lo, hi]`` with ``hi / lo <= 1 + rel_tol``
    where ``replace_one_epsilon(hi) <= target < replace_one_epsilon(lo)`` on
    the reported grid, so its epsilon never exceeds the target; the coarse
    search only decides where the bracket starts, which cuts the expensive
    evaluations from about 15 to about 4. Memoised per process: it is a pure
    function of its arguments and takes seconds, while shadow-model games
    (attacks/shadow.py) refit the same generator hundreds of times with a
    handful of distinct argument sets.

    Raises:
        ValueError: the pure releases alone spend the target (no sigma helps),
            or no sigma up to 1e6 meets it.
    """

    def fits(sigma: float, discretization: float) -> bool:
        eps = replace_one_epsilon(sigma, sample_rate, steps, delta, pure_epsilons, discretization=discretization)
        return eps <= target_epsilon

    def bisect(lo: float, hi: float, discretization: float) -> float:
        """Shrink ``[lo, hi]`` (lo misses the target, hi meets it) to ``hi / lo <= 1 + rel_tol``; its top."""
        while hi / lo > 1.0 + rel_tol:
            mid = math.sqrt(lo * hi)
            hi, lo = (mid, lo) if fits(mid, discretization) else (hi, mid)
        return hi

    floor = replace_one_epsilon(1.0, sample_rate, 0, delta, pure_epsilons)  # the pure releases alone
    if floor >= target_epsilon:
        raise ValueError(
            f"the pure-epsilon releases {list(pure_epsilons)} alone spend epsilon {floor:.4g} "
            f">= the target {target_epsilon:g}"
        )
    # coarse: the bracket's first guess, on a grid about 1/1000 of the target
    coarse = min(SEARCH_DISCRETIZATION, max(PLD_DISCRETIZATION, float(target_epsilon) / 1000.0))
    hi = 1.0
    while not fits(hi, coarse):
        hi *= 2.0
        if hi > 1e6:
            raise ValueError(f"no noise multiplier up to 1e6 reaches epsilon {target_epsilon:g}")
    lo = hi / 2.0
    while lo > 1e-3 and fits(lo, coarse):
        hi, lo = lo, lo / 2.0
    hi = bisect(lo, hi, coarse)
    if coarse == PLD_DISCRETIZATION:  # small targets: the search already ran on the reported grid
        return float(hi)
    # fine: a verified bracket on the reported grid around the coarse answer, widened geometrically
    step, failed = 1.0 + 2.0 * rel_tol, None
    while not fits(hi, PLD_DISCRETIZATION):
        failed, hi, step = hi, hi * step, step * step  # failed: the largest sigma known to miss the target
        if hi > 1e6:
            raise ValueError(f"no noise multiplier up to 1e6 reaches epsilon {target_epsilon:g}")
    lo = failed
    if lo is None:
        lo, step = hi / step, step * step
        while lo > 1e-3 and fits(lo, PLD_DISCRETIZATION):
            hi, lo, step = lo, lo / step, step * step
    return float(bisect(lo, hi, PLD_DISCRETIZATION))


def poisson_schedule(n: int, batch_size: int, epochs: int) -> tuple[float, int, int]:
    """``(sample_rate, steps_per_epoch, total_steps)`` of Poisson-sampled DP-SGD.

    ``q = min(1, batch_size / n)``: each row joins each step's batch
    independently with probability q, so a step's expected batch is
    ``q * n = batch_size``; an epoch is ``ceil(n / batch_size)`` steps (one
    pass in expectation, rounded up) and training runs ``epochs`` of them.
    All three are functions of the public n and settings.
    """
    n, b, e = int(n), int(batch_size), int(epochs)
    q = min(1.0, b / n)
    per_epoch = -(-n // b)
    return q, per_epoch, e * per_epoch


__all__ = [
    "ACCOUNTANT",
    "DELTA_RATIONALE",
    "NEIGHBOURING",
    "PLD_DISCRETIZATION",
    "PLD_MAX_EPSILON",
    "SEARCH_DISCRETIZATION",
    "PURE_DELTA_RATIONALE",
    "TUNED_HERE",
    "accountant_label",
    "calibrate_noise_multiplier",
    "check_tuned_on",
    "default_delta",
    "poisson_schedule",
    "replace_one_epsilon",
    "tuning_scope",
]
