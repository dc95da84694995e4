"""``mst``: MST, the maximum-spanning-tree mechanism of McKenna, Miklau & Sheldon (2021).

"Winning the NIST Contest: A scalable and general approach to differentially
private synthetic data", Journal of Privacy and Confidentiality 11(3), Section
3 (Algorithm 1). Written here from the paper; the inference underneath is
Private-PGM (``mbi`` 1.1.0).

The budget rho (zCDP) is split in three equal parts:

1. *one-way marginals*: each of the d columns' count vectors with Gaussian
   noise, d measurements costing rho/3 together:
   ``sigma_1 = Delta_2 / sqrt(2 rho/(3d))`` (replace-one, Delta_2 = sqrt(2);
   the paper states sigma = sqrt(3d / (2 rho)) for Delta_2 = 1).
2. *domain compression* (post-processing of step 1): in each column the cells
   whose noisy count is below ``3 sigma_1`` are merged into one cell (Section
   3, "compress"). Rows of a merged cell are expanded back to one of its
   cells at sampling time, in proportion to the clipped noisy one-way counts
   (uniform when all are <= 0).
3. *selection*: a spanning tree over the columns, built like Kruskal's
   algorithm, one edge per round for d - 1 rounds; each round picks among the
   pairs that join two components with the exponential mechanism, quality
   ``q_ij = ||M_ij(D) - M_ij(p)||_1`` where p is Private-PGM's model of the
   step-1 measurements. The d - 1 selections cost rho/3 together: epsilon
   ``= sqrt(8 (rho/3) / (d - 1))`` each (epsilon^2/8-zCDP, Cesar & Rogers
   2021). Sensitivity of q under replace-one: 2 (one count -1, one +1).
4. *measurement* of the d - 1 tree marginals with Gaussian noise, rho/3
   together: ``sigma_2 = Delta_2 / sqrt(2 (rho/3) / (d - 1))``.
5. *estimation* with Private-PGM on the one-way and tree measurements
   (known total n) and sampling from the model (post-processing).

With ``epsilon=inf`` every measurement is exact, nothing is compressed and
the tree is the maximum spanning tree of the exact L1 errors: the
mechanism's non-private reference.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from tailbench_mbi import zcdp
from tailbench_mbi.base import MarginalGenerator, model_factors, model_marginal


class MSTGenerator(MarginalGenerator):
    """MST on Private-PGM: noisy one-way marginals, a private maximum spanning tree of pairs, PGM.

    Args:
        epsilon, delta, n_bins, iters, secure_mode, tuned_on, verbose,
            random_state: see :class:`~tailbench_mbi.base.MarginalGenerator`.
        compress: merge each column's cells whose noisy one-way count is
            below ``3 sigma_1`` (the paper's step; post-processing).
    Raises (in ``fit``):
        ConfigError: a setting out of range (named).
        SchemaError: a column without public bounds or domain (named).
    Source: McKenna, Miklau & Sheldon 2021, JPC 11(3), Algorithm 1.
    """

    name = "mst"
    paper = "McKenna, Miklau & Sheldon 2021"

    def __init__(
        self,
        epsilon: float = 1.0,
        delta: float | None = None,
        n_bins: int = 10,
        compress: bool = True,
        iters: int = 3000,
        secure_mode: bool = False,
        tuned_on: str = "none",
        verbose: bool = True,
        random_state: int | None = None,
    ) -> None:
        super().__init__(
            epsilon=epsilon,
            delta=delta,
            n_bins=n_bins,
            iters=iters,
            secure_mode=secure_mode,
            tuned_on=tuned_on,
            verbose=verbose,
            random_state=random_state,
        )
        self.compress = compress

    def _run(self, data: Any) -> None:
        cols = list(self.domain_.attributes)
        d = len(cols)
        if self.private_:
            part = self.rho_mechanism_ / 3.0
            sigma1 = zcdp.gaussian_sigma(part / d)
            sigma2 = zcdp.gaussian_sigma(part / (d - 1)) if d > 1 else 0.0
            eps_select = zcdp.exponential_epsilon(part / (d - 1)) if d > 1 else math.inf
        else:
            sigma1 = sigma2 = 0.0
            eps_select = math.inf
        self.sigmas_ = {"one_way": sigma1, "tree": sigma2}
        self.epsilon_select_ = eps_select
        for c in cols:
            self._measure(data, (c,), sigma1, "one-way")
        self.compression_ = {}
        if self.private_ and self.compress:
            data = self._compress(data, 3.0 * sigma1)
        self.tree_: list[tuple[str, str]] = []
        if d > 1:
            model = self._estimate(self.iters)
            self.tree_ = self._spanning_tree(data, model, eps_select)
            for edge in self.tree_:
                self._measure(data, edge, sigma2, "tree")
        self.model_ = self._estimate(self.iters)

    # ------------------------------------------------------------ compress
    def _compress(self, data: Any, threshold: float) -> Any:
        """Merge each column's cells whose noisy one-way count is below ``threshold`` (post-processing).

        Rewrites ``domain_``, the one-way measurements and the data to the
        compressed cells; keeps in ``compression_`` what sampling needs to
        expand a merged cell.
        """
        from mbi import Domain, LinearMeasurement

        mapping: dict[str, np.ndarray] = {}
        ones = {m.clique[0]: m for m in self.measurements_}
        for col, size in zip(self.domain_.attributes, self.domain_.shape):
            y = np.asarray(ones[col].noisy_measurement, dtype=float)
            rare = np.flatnonzero(y < threshold)
            if len(rare) < 2:
                continue
            kept = np.flatnonzero(y >= threshold)
            m = np.empty(size, dtype=np.int64)
            m[kept] = np.arange(len(kept))
            m[rare] = len(kept)
            w = np.clip(y[rare], 0.0, None)
            probs = w / w.sum() if w.sum() > 0 else np.full(len(rare), 1.0 / len(rare))
            mapping[col] = m
            self.compression_[col] = {"kept": kept, "merged": rare, "probs": probs}
        if not mapping:
            return data
        data = data.compress(mapping)
        self.domain_ = Domain(list(data.domain.attributes), list(data.domain.shape))
        new = []
        for meas in self.measurements_:
            col = meas.clique[0]
            if col in mapping:
                y = np.bincount(
                    mapping[col],
                    weights=np.asarray(meas.noisy_measurement, dtype=float),
                    minlength=int(mapping[col].max()) + 1,
                )
                meas = LinearMeasurement(y, meas.clique, stddev=meas.stddev)
            new.append(meas)
        self.measurements_ = new
        return data

    def _expand(self, cells: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Map compressed cells back to the encoder's cells (a merged cell to one of its members)."""
        out = dict(cells)
        for col, info in self.compression_.items():
            c = np.asarray(cells[col], dtype=np.int64)
            kept, merged = info["kept"], info["merged"]
            orig = np.empty(len(c), dtype=np.int64)
            is_merged = c == len(kept)
            orig[~is_merged] = kept[c[~is_merged]]
            orig[is_merged] = self.rng_.choice(merged, size=int(is_merged.sum()), p=info["probs"])
            out[col] = orig
        return out

    def _sample(self, n: int):
        cells = self._expand(self._model_cells(n))
        return self.encoder_.inverse_transform(cells, self.rng_)

    # ---------------------------------------------------------- selection
    def _spanning_tree(self, data: Any, model: Any, epsilon: float) -> list[tuple[str, str]]:
        """Kruskal's algorithm with each edge chosen by the exponential mechanism (Algorithm 1, SELECT).

        Quality of pair (i, j): ``||M_ij(D) - M_ij(p)||_1``, p the one-way
        model; sensitivity 2 under replace-one.
        """
        cols = list(self.domain_.attributes)
        sizes = dict(zip(cols, self.domain_.shape))
        factors = model_factors(model)
        pairs = list(itertools.combinations(cols, 2))
        score = {}
        for pair in pairs:
            est = model_marginal(factors, sizes, pair, float(self.n_train_))
            score[pair] = float(np.abs(self._counts(data, pair) - est).sum())
        parent = {c: c for c in cols}

        def root(c: str) -> str:
            while parent[c] != c:
                parent[c] = parent[parent[c]]
                c = parent[c]
            return c

        tree = []
        for _ in range(len(cols) - 1):
            cand = [p for p in pairs if root(p[0]) != root(p[1])]
            i = self._select(
                np.array([score[p] for p in cand]), epsilon, zcdp.L1_SENSITIVITY, "select-edge", cliques=cand
            )
            a, b = cand[i]
            parent[root(a)] = root(b)
            tree.append((a, b))
        return tree

    def _mechanism_scope(self) -> list[str]:
        d = len(self.encoder_.names)
        return [
            f"one-way:gaussian(sigma={self.sigmas_['one_way']:.4g}, {d} marginals, rho/3, "
            "L2 sensitivity sqrt(2) under replace-one)",
            f"selection:exponential-mechanism({len(self.tree_)} tree edges, epsilon={self.epsilon_select_:.4g} "
            "each, rho/3, score sensitivity 2 under replace-one)",
            f"tree:gaussian(sigma={self.sigmas_['tree']:.4g}, {len(self.tree_)} marginals, rho/3)",
            "compression:post-processing(noisy one-way counts < 3 sigma merged)"
            if self.compress
            else "compression:off",
        ]


__all__ = ["MSTGenerator"]
