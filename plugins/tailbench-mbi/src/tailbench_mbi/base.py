"""What MST and AIM share: settings, the public encoding, measurements, selection, estimation, accounting.

A marginal-based mechanism (McKenna, Sheldon & Miklau 2019, "Graphical-model
based estimation and inference for differential privacy", ICML) has three
parts; tailbench's generators split them the same way:

1. *select* which marginals to measure (MST: a spanning tree, AIM: an
   adaptive sequence), with the exponential mechanism;
2. *measure* them with Gaussian noise;
3. *estimate* a graphical model from the noisy measurements with Private-PGM
   (``mbi.estimation.mirror_descent``) and sample rows from it
   (``MarkovRandomField.synthetic_data``), both post-processing.

Privacy bookkeeping: every selection and measurement appends its zCDP cost
to :attr:`MarginalGenerator.ledger_`; the sum is converted to (epsilon,
delta) with Canonne, Kamath & Steinke's conversion (:mod:`tailbench_mbi.zcdp`).
The target rho is the largest rho whose conversion is at most the target
epsilon, less a relative 1e-9 so that rounding in the per-step costs can never
push the spent epsilon above the target.

Neighbouring relation: replace-one (n is public; Private-PGM is told the
total n, and the synthetic table has n rows by default).

Randomness: all noise a privacy proof depends on (Gaussian measurement noise,
Gumbel noise of the exponential mechanism) comes from one
:class:`bench.generators.noise.NoiseSource` (seeded from ``random_state``, or
``os.urandom`` with ``secure_mode``). Decoding cells to values and
Private-PGM's sampling use the generator's seeded streams (post-processing).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import ConfigError
from bench.generators.accounting import DELTA_RATIONALE, NEIGHBOURING, check_tuned_on, tuning_scope
from bench.generators.base import BaseGenerator, PrivacySpent
from bench.generators.dp_bounds import (
    DEFAULT_FRACTION,
    DEFAULT_QUANTILES,
    check_fraction,
    check_public_schema,
    needs_release,
    resolve_bounds,
)
from bench.generators.noise import NoiseSource
from tailbench_mbi import zcdp
from tailbench_mbi.encode import PublicEncoder


class MarginalGenerator(BaseGenerator):
    """Base of :class:`~tailbench_mbi.MSTGenerator` and :class:`~tailbench_mbi.AIMGenerator`.

    Args:
        epsilon: target epsilon of the (epsilon, delta)-DP guarantee (> 0);
            ``inf`` = exact measurements and argmax selection (no noise, no
            guarantee): the mechanism's non-private reference.
        delta: target delta; None = ``1 / n^2``. Must be in ``(0, 1/n)``.
        n_bins: equal-width bins per numerical column between its bounds
            (see :mod:`tailbench_mbi.encode`).
        bounds_budget_fraction: share of the zCDP budget rho spent releasing
            the bounds of ``schema.dp_bounds`` columns (only when there is
            one): 2 exponential-mechanism quantile releases per column
            (:mod:`bench.generators.dp_bounds`), each ``epsilon_i^2 / 8``-zCDP.
        bounds_quantiles: ``[q_low, q_high]`` of those releases.
        iters: Private-PGM mirror-descent iterations of the final estimate.
        secure_mode: draw the mechanism's noise from ``os.urandom`` (not
            reproducible) instead of a seeded generator.
        tuned_on: the dataset these settings were chosen on (``"none"``: the
            papers' defaults and cost limits). When it is the dataset being
            fitted, the privacy record says the hyperparameters are outside
            the guarantee.
        verbose: progress bar (AIM's rounds).
        random_state: seed of the noise (unless ``secure_mode``), the decoding
            and the sampling.
    """

    cacheable = True
    paper = ""

    def __init__(
        self,
        epsilon: float = 1.0,
        delta: float | None = None,
        n_bins: int = 10,
        iters: int = 3000,
        bounds_budget_fraction: float = DEFAULT_FRACTION,
        bounds_quantiles: Any = DEFAULT_QUANTILES,
        secure_mode: bool = False,
        tuned_on: str = "none",
        verbose: bool = True,
        random_state: int | None = None,
    ) -> None:
        super().__init__(random_state=random_state)
        self.epsilon = epsilon
        self.delta = delta
        self.n_bins = n_bins
        self.bounds_budget_fraction = bounds_budget_fraction
        self.bounds_quantiles = bounds_quantiles
        self.iters = iters
        self.secure_mode = secure_mode
        self.tuned_on = tuned_on
        self.verbose = verbose

    # ------------------------------------------------------------- settings
    def _check_settings(self, n: int) -> None:
        """Resolve ``epsilon_``, ``delta_``, ``private_`` and ``rho_``.

        Raises:
            ConfigError: epsilon not > 0, delta not in (0, 1/n), iters < 1,
                fewer than 2 rows.
        """
        try:
            eps = float(self.epsilon)
        except (TypeError, ValueError):
            raise ConfigError(f"generator.epsilon must be a positive number or inf, got {self.epsilon!r}") from None
        if math.isnan(eps) or eps <= 0:
            raise ConfigError(
                f"generator.epsilon must be > 0 (or inf for the non-private reference), got {self.epsilon!r}"
            )
        if n < 2:
            raise ConfigError(f"{self.name} needs at least 2 training rows, got {n}")
        self._check_int("iters", self.iters)
        if self.delta is None:
            delta = 1.0 / float(n) ** 2
        else:
            try:
                delta = float(self.delta)
            except (TypeError, ValueError):
                raise ConfigError(f"generator.delta must be a number in (0, 1/n), got {self.delta!r}") from None
        if not (0 < delta < 1.0 / n):
            raise ConfigError(
                f"generator.delta={delta:.3g} must be in (0, 1/n) = (0, {1.0 / n:.3g}) for n={n} training rows "
                f"(a delta of 1/n allows publishing a whole record); the default is 1/n^2 = {1.0 / n**2:.3g}"
            )
        self.epsilon_ = eps
        self.delta_ = delta
        self.private_ = math.isfinite(eps)
        self.rho_ = zcdp.rho_from_epsilon(eps, delta) * (1.0 - 1e-9) if self.private_ else math.inf

    @staticmethod
    def _check_int(key: str, value: Any, low: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < low:
            raise ConfigError(f"generator.{key} must be an integer >= {low}, got {value!r}")
        return int(value)

    # ------------------------------------------------------------------ fit
    def _fit(self, train: pd.DataFrame) -> None:
        from mbi import Dataset, Domain

        n = len(train)
        self._check_settings(n)
        self.tuned_on_ = check_tuned_on(self.tuned_on)
        frac = check_fraction(self.bounds_budget_fraction, "generator.bounds_budget_fraction")
        check_public_schema(self.schema_, self.name)
        self.noise_ = NoiseSource(secure=bool(self.secure_mode), seed=self.seed_)
        self.ledger_: list[dict[str, Any]] = []
        self.measurements_: list[Any] = []
        self.n_train_ = n
        self.bounds_ = self._release_bounds(train, frac)
        self.encoder_ = PublicEncoder(n_bins=self.n_bins).fit(self.schema_, bounds=self.bounds_.bounds)
        self.domain_ = Domain(self.encoder_.names, self.encoder_.shape)
        data = Dataset(self.encoder_.transform(train), self.domain_)
        # what the mechanism itself may spend: the target less the bounds releases
        self.rho_mechanism_ = self.rho_ - sum(s["rho"] for s in self.ledger_)
        self._run(data)
        self.rho_spent_ = float(sum(step["rho"] for step in self.ledger_))
        if self.private_:
            self.spent_epsilon_ = zcdp.epsilon_from_rho(self.rho_spent_, self.delta_)
            if self.spent_epsilon_ > self.epsilon_:  # pragma: no cover - guard
                raise RuntimeError(
                    f"{self.name}: spent epsilon {self.spent_epsilon_:.6f} exceeds the target "
                    f"{self.epsilon_:g}; refusing to report a violated budget"
                )
        else:
            self.spent_epsilon_ = math.inf

    def _release_bounds(self, train: pd.DataFrame, fraction: float) -> Any:
        """Bounds of every numerical column: public, or released with DP on ``fraction`` of rho.

        Each of the 2k releases (k ``dp_bounds`` columns, two quantiles each)
        gets ``fraction * rho / (2k)``: an exponential mechanism with
        ``epsilon_i = sqrt(8 fraction rho / (2k))`` (epsilon_i^2/8-zCDP,
        Cesar & Rogers 2021; utility sensitivity 1 under replace-one). Nothing
        is spent when every bound is public.
        """
        todo = needs_release(self.schema_)
        if not self.private_:
            return resolve_bounds(train, self.schema_, epsilon=math.inf, noise=None, quantiles=self.bounds_quantiles)
        each = zcdp.exponential_epsilon(fraction * self.rho_ / (2 * len(todo))) if todo else 0.0
        release = resolve_bounds(
            train, self.schema_, epsilon=each * 2 * len(todo), noise=self.noise_, quantiles=self.bounds_quantiles
        )
        for col, e in zip([c for c in release.released for _ in range(2)], release.epsilons):
            self.ledger_.append(
                {
                    "step": "bounds",
                    "mechanism": "exponential",
                    "clique": [col],
                    "epsilon": float(e),
                    "sensitivity": 1.0,
                    "rho": zcdp.exponential_rho(e),
                }
            )
        return release

    def _run(self, data: Any) -> None:  # pragma: no cover - abstract
        """Select, measure and estimate; set ``model_``."""
        raise NotImplementedError

    # --------------------------------------------------------- primitives
    @staticmethod
    def _counts(data: Any, clique: tuple[str, ...]) -> np.ndarray:
        """Exact counts of a marginal, flattened in ``mbi``'s cell order (C order over the clique)."""
        return np.asarray(data.project(list(clique)).datavector(), dtype=float)

    def _measure(self, data: Any, clique: tuple[str, ...], sigma: float, step: str) -> Any:
        """Gaussian measurement of one marginal (exact when ``sigma`` is 0).

        ``y = M_clique(D) + N(0, sigma^2 I)``; costs ``gaussian_rho(sigma)``
        = ``2 / (2 sigma^2)`` under replace-one (L2 sensitivity sqrt(2)).

        Returns:
            ``mbi.LinearMeasurement`` (stddev 1 for an exact measurement, so
            the estimator weighs exact measurements equally).
        """
        from mbi import LinearMeasurement

        x = self._counts(data, clique)
        if sigma > 0:
            y = x + self.noise_.normal(x.size, scale=sigma)
            rho = zcdp.gaussian_rho(sigma)
        else:
            y, rho = x, 0.0
        self.ledger_.append(
            {"step": step, "mechanism": "gaussian", "clique": list(clique), "sigma": float(sigma), "rho": float(rho)}
        )
        m = LinearMeasurement(y, tuple(clique), stddev=float(sigma) if sigma > 0 else 1.0)
        self.measurements_.append(m)
        return m

    def _select(
        self,
        scores: np.ndarray,
        epsilon: float,
        sensitivity: float,
        step: str,
        cliques: list[tuple[str, ...]] | None = None,
    ) -> int:
        """The exponential mechanism by Gumbel-max: ``argmax_r epsilon q_r / (2 Delta) + G_r``.

        Picking the argmax of the scaled scores plus i.i.d. standard Gumbel
        noise samples r with probability proportional to ``exp(epsilon q_r /
        (2 Delta))`` (the Gumbel-max trick; McSherry & Talwar 2007 for the
        mechanism), which is epsilon-DP and epsilon^2/8-zCDP (Cesar & Rogers
        2021). With ``epsilon`` inf it is the plain argmax (no cost).

        Args:
            scores: ``(m,)`` quality scores q_r.
            epsilon: the mechanism's epsilon.
            sensitivity: Delta, the largest change of any q_r between
                replace-one neighbours.
        Returns:
            Index of the chosen candidate.
        """
        q = np.asarray(scores, dtype=float)
        if math.isinf(epsilon):
            choice, rho = int(np.argmax(q)), 0.0
        else:
            choice = int(np.argmax(epsilon * q / (2.0 * sensitivity) + self.noise_.gumbel(q.size)))
            rho = zcdp.exponential_rho(epsilon)
        self.ledger_.append(
            {
                "step": step,
                "mechanism": "exponential",
                "candidates": int(q.size),
                "epsilon": float(epsilon),
                "sensitivity": float(sensitivity),
                "rho": float(rho),
                "clique": list(cliques[choice]) if cliques is not None else None,
            }
        )
        return choice

    def _estimate(self, iters: int, potentials: Any = None) -> Any:
        """Private-PGM's mirror descent on every measurement so far (post-processing).

        The total is the public n (replace-one), not estimated from the noise.
        The loss is mbi's ``from_linear_measurements`` (``sum_m ||(M_m(mu) -
        y_m) / sigma_m||^2 / 2``) with its gradient's Lipschitz constant from
        :func:`lipschitz_bound` instead of mbi's power iteration (which JAX
        compiles anew for every measurement set); mirror descent starts its
        Armijo line search at ``2 / (L n)`` either way.
        """
        from mbi import estimation, marginal_loss

        ms = list(self.measurements_)
        base = marginal_loss.from_linear_measurements(ms)
        loss = marginal_loss.MarginalLossFn(
            base.cliques,
            base.loss_fn,
            lipschitz_bound(ms, base.cliques, dict(zip(self.domain_.attributes, self.domain_.shape))),
        )
        return estimation.mirror_descent(
            self.domain_, loss, known_total=float(self.n_train_), potentials=potentials, iters=int(iters)
        )

    # ---------------------------------------------------------- sampling
    def _model_cells(self, n: int) -> dict[str, np.ndarray]:
        """``n`` rows of cells from the fitted model, reproducible from ``random_state``.

        ``MarkovRandomField.synthetic_data(method="sample")`` (i.i.d. rows
        from the model) draws from NumPy's global RNG; it runs under a state
        seeded from the generator's stream and the caller's global state is
        restored afterwards. Rows are shuffled with the generator's stream.
        """
        state = np.random.get_state()
        try:
            np.random.seed(int(self.rng_.integers(0, 2**32 - 1)))
            # i.i.d. sampling: mbi 1.1.0's default "round" assigns each column by rank within its parents'
            # groups in row order, which correlates columns that are not neighbours in the model
            # (on Adult, exact MST: off-tree pairs at TV 0.38-0.55 with "round", 0.08-0.11 with "sample")
            out = self.model_.synthetic_data(rows=int(n), method="sample").to_dict()
        finally:
            np.random.set_state(state)
        # mbi writes rows grouped by the first sampled column; shuffle them (post-processing)
        perm = self.rng_.permutation(int(n))
        return {k: np.asarray(v, dtype=np.int64)[perm] for k, v in out.items()}

    def _sample(self, n: int) -> pd.DataFrame:
        cells = self._model_cells(n)
        return self.encoder_.inverse_transform(cells, self.rng_)

    # ----------------------------------------------------------- privacy
    def _mechanism_scope(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def privacy_spent(self) -> PrivacySpent | None:
        """Epsilon spent (CKS20 conversion of the zCDP ledger), delta and what the guarantee covers.

        ``epsilon=inf`` runs report ``epsilon=inf``, no delta, accountant
        ``"none"`` and ``full_scope=False``. Returns None before ``fit``.
        """
        if not hasattr(self, "model_"):
            return None
        bounds = self.bounds_.describe() + "; categories: the schema's public domains"
        tuning, outside = tuning_scope(self.tuned_on_, self.schema_.name)
        if self.tuned_on_ == "none":
            tuning += f" ({self.paper}; round/iteration caps set for run cost)"
        sel = [s for s in self.ledger_ if s["mechanism"] == "exponential" and s["step"] != "bounds"]
        n_meas = sum(1 for s in self.ledger_ if s["mechanism"] == "gaussian")
        common = dict(neighbouring=NEIGHBOURING, bounds_source=bounds, tuning_source=tuning)
        if not self.private_:
            return PrivacySpent(
                epsilon=math.inf,
                delta=None,
                accountant="none",
                scope=["no-noise: epsilon=inf, exact marginals and argmax selection, no privacy guarantee"],
                full_scope=False,
                notes=[
                    f"{n_meas} exact marginals, {len(sel)} argmax selections (the mechanism's non-private reference)"
                ],
                delta_rationale="none: no guarantee is claimed",
                rng="none: no noise",
                outside=["everything: epsilon=inf measures without noise"] + outside,
                **common,
            )
        notes = [
            f"zCDP: rho spent {self.rho_spent_:.6g} of {self.rho_:.6g} "
            f"({n_meas} Gaussian measurements, {len(sel)} exponential-mechanism selections"
            + (f", {len(self.bounds_.epsilons)} DP bound releases" if self.bounds_.released else "")
            + ")",
            "Gaussian and Gumbel noise are textbook floating-point samplers (not discretised; Mironov 2012)",
            "estimation (Private-PGM mirror descent, known total n) and sampling are post-processing",
            "the number of rows sampled is the caller's (default: the training-set size n, public under replace-one)",
        ]
        if self.noise_.kind == "seeded":
            notes.insert(
                0,
                "seeded noise: reproducible for benchmarking; the guarantee holds only for someone who "
                "does not know the seed (written to run.json)",
            )
        scope = self._mechanism_scope() + [
            "preprocessing:public-schema",
            "output-format:public-schema(integers,nullable)",
            "estimation:post-processing",
            "sampling:post-processing",
        ]
        if self.bounds_.released:
            scope.insert(
                0,
                f"bounds:exponential-mechanism({', '.join(self.bounds_.released)}; "
                f"{len(self.bounds_.epsilons)} quantile releases, epsilon_i^2/8-zCDP each)",
            )
        rationale = DELTA_RATIONALE if self.delta is None else f"set by the caller (generator.delta={self.delta_:.3g})"
        return PrivacySpent(
            epsilon=float(self.spent_epsilon_),
            delta=float(self.delta_),
            accountant=zcdp.ACCOUNTANT,
            scope=scope,
            full_scope=not outside,
            notes=notes,
            delta_rationale=rationale,
            rng=self.noise_.describe(),
            outside=outside,
            **common,
        )


# --------------------------------------------------------------- inference
def lipschitz_bound(measurements: list[Any], cliques: list[tuple[str, ...]], sizes: dict[str, int]) -> float:
    """An upper bound on the Lipschitz constant of the gradient of mbi's L2 marginal loss.

    The loss ``sum_m ||P_m mu_C - y_m||^2 / (2 sigma_m^2)`` depends on each
    maximal clique's marginal mu_C through the measurements inside C, so its
    Hessian is block diagonal over the cliques with blocks ``sum_{m in C} P_m^T
    P_m / sigma_m^2``; ``P_m`` sums C's cells over ``C minus m`` and
    ``||P_m^T P_m|| = |dom(C minus m)|``. The bound is the largest block's
    ``sum_{m subset of C} |dom(C minus m)| / sigma_m^2`` (counting a
    measurement in every clique that contains it, so it holds whichever
    clique mbi projects it from).

    Args:
        measurements: ``mbi.LinearMeasurement`` list (identity queries).
        cliques: the loss's maximal cliques.
        sizes: ``{attribute: cells}``.
    Returns:
        L > 0.
    """
    best = 0.0
    for c in cliques:
        total = 0.0
        for m in measurements:
            if set(m.clique) <= set(c):
                total += math.prod(sizes[a] for a in c if a not in m.clique) / max(float(m.stddev), 1e-12) ** 2
        best = max(best, total)
    return best if best > 0 else 1.0


def model_factors(model: Any) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """The model's log-potentials as NumPy arrays: ``[(clique, (|a1|, |a2|, ..) array)]``."""
    out = []
    for cl in model.potentials.cliques:
        f = model.potentials[cl]
        out.append((tuple(f.domain.attributes), np.asarray(f.values, dtype=float)))
    return out


def model_marginal(
    factors: list[tuple[tuple[str, ...], np.ndarray]], sizes: dict[str, int], clique: tuple[str, ...], total: float
) -> np.ndarray:
    """A marginal of the graphical model ``p(x) ∝ exp(sum_c theta_c(x_c))`` by variable elimination.

    NumPy's einsum eliminates one variable at a time (greedy: the one whose
    eliminated factor is smallest), rescaling each new factor to a maximum
    of 1. Used for AIM's and MST's selection scores over many candidate
    marginals: ``mbi``'s own variable elimination compiles every operation
    for new shapes with JAX (seconds per marginal on CPU).

    Args:
        factors: :func:`model_factors` output (log-space).
        sizes: ``{attribute: cells}`` of the domain.
        clique: the attributes of the marginal, in output order.
        total: the model's total (n).
    Returns:
        ``(prod |a| for a in clique,)`` flattened counts summing to ``total``.
    Source: Koller & Friedman 2009, Algorithm 9.1 (sum-product variable elimination).
    """
    fs = [(list(a), np.exp(v - v.max())) for a, v in factors]
    covered = set().union(*[set(a) for a, _ in fs]) if fs else set()
    for a in clique:
        if a not in covered:
            fs.append(([a], np.ones(sizes[a])))
    elim = sorted(covered - set(clique))

    def merged(attrs_list):
        out: list[str] = []
        for attrs in attrs_list:
            out += [a for a in attrs if a not in out]
        return out

    while elim:

        def cost(v, fs=fs):
            return math.prod(sizes[a] for a in merged([a for a, _ in fs if v in a]))

        var = min(elim, key=cost)
        inv = [f for f in fs if var in f[0]]
        rest = [f for f in fs if var not in f[0]]
        keep = [a for a in merged([a for a, _ in inv]) if a != var]
        new = _einsum(inv, keep)
        m = new.max()
        fs = rest + [(keep, new / m if m > 0 else new)]
        elim.remove(var)
    out = _einsum(fs, list(clique))
    s = out.sum()
    out = out / s * total if s > 0 else np.full(out.shape, total / out.size)
    return out.reshape(-1)


def _einsum(factors: list[tuple[list[str], np.ndarray]], output: list[str]) -> np.ndarray:
    labels: dict[str, int] = {}
    args: list[Any] = []
    for attrs, vals in factors:
        args += [vals, [labels.setdefault(a, len(labels)) for a in attrs]]
    for a in output:
        labels.setdefault(a, len(labels))
    args.append([labels[a] for a in output])
    return np.einsum(*args, optimize=len(factors) > 2)


__all__ = ["MarginalGenerator", "lipschitz_bound", "model_factors", "model_marginal"]
