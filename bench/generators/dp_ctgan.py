"""``dp_ctgan``: a CTGAN-style GAN whose discriminator is trained with DP-SGD (Opacus).

Only the discriminator reads real rows; the generator is updated through the
discriminator's output on synthetic rows, so it is post-processing of a
differentially private model and needs no noise of its own.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from bench.errors import ConfigError
from bench.generators.dp_base import DPGeneratorBase, dp_batches, make_dp_training, quiet_opacus, shuffled_batches
from bench.generators.dp_bounds import DEFAULT_FRACTION, DEFAULT_QUANTILES
from bench.generators.laplace import laplace_frequencies


class DPCTGANGenerator(DPGeneratorBase):
    """CTGAN-style GAN with a DP-SGD discriminator (pac=1, no gradient penalty).

    Architecture: ctgan's ``Generator`` (residual blocks with BatchNorm) and
    ``Discriminator`` (LeakyReLU + Dropout MLP), wrapped rather than copied.
    Data encoding: :class:`~bench.generators.dp_base.PublicTransformer`
    (public bounds and domains only); generator output goes through tanh for
    offsets and Gumbel-softmax (tau 0.2) for one-hot spans, as in CTGAN.

    What differs from CTGAN, and why:

    * Loss: the non-saturating GAN loss (binary cross-entropy on logits), not
      WGAN-GP. Opacus computes per-sample gradients by hooks on each layer's
      forward and backward; the gradient penalty needs a double backward
      through the discriminator, which those hooks cannot follow (Opacus 1.6:
      ``IndexError: pop from empty list``). A WGAN without the penalty has no
      Lipschitz control; BCE is the loss of Opacus' own DCGAN example.
    * pac=1: with packing, one discriminator input holds ``pac`` rows and a
      per-sample gradient would bound a group of records, not one.
    * Conditional vector without training-by-sampling (``conditional=True``,
      default). As in CTGAN, each synthetic row is conditioned on one
      categorical column drawn uniformly and a category drawn from that
      column's frequencies; the generator takes the condition as input and
      is trained with CTGAN's cross-entropy condition loss besides the GAN
      loss (post-processing), and the discriminator sees ``(row,
      condition)``. Two leaks of CTGAN are closed: the frequencies are
      released once with the Laplace mechanism on a share
      ``cond_epsilon_fraction`` of epsilon (L1 sensitivity 2 per histogram
      under replace-one: one count down, one up; scale ``2m / epsilon_cond``
      for m categorical columns; composed with DP-SGD in the PLD
      accountant as an (epsilon_cond, 0)-DP event), and real rows are not
      picked to match a condition (training-by-sampling breaks Poisson
      sampling); each Poisson-sampled
      real row is conditioned on its own category in a uniformly drawn
      column, which stays inside its own clipped per-sample gradient.
      ``conditional=False``, or a table without categorical columns, trains
      an unconditional GAN on the whole budget.
    * One combined backward per discriminator step: the Poisson batch of real
      rows (label 1) and a fixed number ``batch_size`` of synthetic rows
      (label 0) go through one forward and one backward, so a record's
      presence changes exactly one clipped per-sample gradient (Opacus cannot
      accumulate two backward passes under Poisson sampling).

    ``epsilon=inf`` trains the same networks with plain shuffled minibatches
    (no clipping, no noise) and exact category frequencies.

    Training defaults (50 epochs, batch 250, learning rates 1e-3) are the
    recipe tuned on the public ``fair`` table (``tuned_on: fair``,
    ``scripts/tune_on_fair.py``, docs/dp.md); network sizes are CTGAN's.
    ``conf/generator/dp_ctgan_adult_tuned.yaml`` keeps the recipe chosen on
    capped Adult (150 epochs, batch 500, 2e-4), whose claim on Adult is
    partial.

    Args (beyond :class:`~bench.generators.dp_base.DPGeneratorBase`):
        embedding_dim: noise size fed to the generator (CTGAN default 128).
        generator_dim, discriminator_dim: hidden sizes (CTGAN default 256, 256).
        generator_lr, discriminator_lr: Adam learning rates (CTGAN 2e-4; tuned on fair: 1e-3).
        generator_decay, discriminator_decay: Adam weight decay (CTGAN 1e-6).
        conditional: use the conditional vector described above.
        cond_epsilon_fraction: share of epsilon spent on the Laplace release
            of the category frequencies, in (0, 1); the rest calibrates DP-SGD.
    Raises (in ``fit``, beyond the base class):
        ConfigError: ``conditional`` not a bool, ``cond_epsilon_fraction``
            outside (0, 1).
    Source: Xu et al. 2019 (CTGAN); Abadi et al. 2016 (DP-SGD); Opacus DCGAN
        example (one combined discriminator backward per step); Dwork et al. 2006
        (Laplace mechanism).
    """

    name = "dp_ctgan"

    def __init__(
        self,
        epsilon: float = 1.0,
        delta: float | None = None,
        epochs: int = 50,
        batch_size: int = 250,
        max_grad_norm: float = 1.0,
        accountant: str = "pld",
        grad_sample_mode: str = "ghost",
        n_bins: int = 10,
        allow_data_bounds: bool = False,
        bounds_epsilon_fraction: float = DEFAULT_FRACTION,
        bounds_quantiles=DEFAULT_QUANTILES,
        embedding_dim: int = 128,
        generator_dim=(256, 256),
        discriminator_dim=(256, 256),
        generator_lr: float = 1e-3,
        discriminator_lr: float = 1e-3,
        generator_decay: float = 1e-6,
        discriminator_decay: float = 1e-6,
        conditional: bool = True,
        cond_epsilon_fraction: float = 0.1,
        secure_mode: bool = False,
        tuned_on: str = "fair",
        verbose: bool = True,
        random_state: int | None = None,
    ) -> None:
        super().__init__(
            epsilon=epsilon,
            delta=delta,
            epochs=epochs,
            batch_size=batch_size,
            max_grad_norm=max_grad_norm,
            accountant=accountant,
            grad_sample_mode=grad_sample_mode,
            n_bins=n_bins,
            allow_data_bounds=allow_data_bounds,
            bounds_epsilon_fraction=bounds_epsilon_fraction,
            bounds_quantiles=bounds_quantiles,
            secure_mode=secure_mode,
            tuned_on=tuned_on,
            verbose=verbose,
            random_state=random_state,
        )
        self.embedding_dim = embedding_dim
        self.generator_dim = generator_dim
        self.discriminator_dim = discriminator_dim
        self.generator_lr = generator_lr
        self.discriminator_lr = discriminator_lr
        self.generator_decay = generator_decay
        self.discriminator_decay = discriminator_decay
        self.conditional = conditional
        self.cond_epsilon_fraction = cond_epsilon_fraction

    # ---------------------------------------------------------------- fit
    def _fit(self, train: pd.DataFrame) -> None:
        from ctgan.synthesizers.ctgan import Discriminator, Generator

        self._check_settings(len(train))
        self._check_conditional()
        x = torch.from_numpy(self._fit_transformer(train))
        dim = self.transformer_.output_dimensions
        self._tanh_idx = torch.as_tensor(self.transformer_.tanh_positions(), dtype=torch.long)
        self._spans = [(st, ed) for _, st, ed in self.transformer_.softmax_spans()]
        self._setup_conditional(x)
        n_opt = self.cond_dim_
        self.generator_ = Generator(int(self.embedding_dim) + n_opt, list(self.generator_dim), dim)
        disc = Discriminator(dim + n_opt, list(self.discriminator_dim), pac=1)
        self.opt_g_ = torch.optim.Adam(
            self.generator_.parameters(),
            lr=float(self.generator_lr),
            betas=(0.5, 0.9),
            weight_decay=float(self.generator_decay),
        )
        opt_d = torch.optim.Adam(
            disc.parameters(),
            lr=float(self.discriminator_lr),
            betas=(0.5, 0.9),
            weight_decay=float(self.discriminator_decay),
        )
        self.epoch_times_: list[float] = []
        with quiet_opacus():
            if self.private_:
                self._fit_private(disc, opt_d, x)
            else:
                self._fit_plain(disc, opt_d, x)
        self.opt_g_ = None

    # -------------------------------------------------- conditional vector
    def _check_conditional(self) -> None:
        """Validate ``conditional`` and ``cond_epsilon_fraction`` (ConfigError naming the setting)."""
        if not isinstance(self.conditional, bool):
            raise ConfigError(f"generator.conditional must be true or false, got {self.conditional!r}")
        try:
            f = float(self.cond_epsilon_fraction)
        except (TypeError, ValueError):
            f = float("nan")
        if self.conditional and not 0 < f < 1:
            raise ConfigError(
                "generator.cond_epsilon_fraction must be in (0, 1) (the share of epsilon spent "
                f"on the category frequencies), got {self.cond_epsilon_fraction!r}"
            )
        if self.conditional and f + self.bounds_fraction_ >= 1:
            raise ConfigError(
                f"generator.cond_epsilon_fraction ({f:g}) + generator.bounds_epsilon_fraction "
                f"({self.bounds_fraction_:g}) must be below 1: DP-SGD needs a share of epsilon"
            )

    def _setup_conditional(self, x: torch.Tensor) -> None:
        """Conditional-vector layout and the released category frequencies.

        The conditional vector concatenates one one-hot block per categorical
        column (its softmax span, missing slot included), as in CTGAN; one
        column is active per row. Frequencies of each categorical column are
        released once with the Laplace mechanism: under replace-one
        neighbours a record moves one count down and another up in each of
        the ``m`` histograms, so L1 sensitivity is ``2m`` and scale
        ``2m / cond_epsilon_`` gives ``cond_epsilon_``-DP (Dwork et al. 2006);
        the noise comes from the fit's NoiseSource. Negative counts are
        clipped to 0, the missing slot of a non-nullable column is set to 0
        (public schema), and the rest renormalised (post-processing).
        ``epsilon=inf`` uses the exact frequencies.
        """
        codes = self.transformer_.codes_
        spans = (
            [(st, ed) for i, st, ed in self.transformer_.softmax_spans() if codes[i].kind == "categorical"]
            if self.conditional
            else []
        )
        self._cond_spans = spans
        widths = [ed - st for st, ed in spans]
        self.cond_dim_ = int(sum(widths))
        # the budget split; nothing to condition on (or epsilon=inf): no Laplace release
        self.cond_epsilon_ = self.epsilon_ * float(self.cond_epsilon_fraction) if spans and self.private_ else 0.0
        self.cond_noise_scale_ = 2 * len(spans) / self.cond_epsilon_ if self.cond_epsilon_ else 0.0
        cat_codes = [c for c in codes if c.kind == "categorical"] if self.conditional else []
        keeps = []
        for c in cat_codes:
            keep = np.ones(len(c.categories) + 1, dtype=bool)
            keep[c.missing_slot] = c.nullable
            keeps.append(keep)
        self.cond_freqs_ = [
            torch.as_tensor(
                laplace_frequencies(
                    x[:, st:ed].sum(dim=0).double().numpy(), self.cond_noise_scale_, self.noise_, keep=keep
                ),
                dtype=torch.float32,
            )
            for (st, ed), keep in zip(spans, keeps)
        ]
        if spans:
            self._cond_idx = torch.cat([torch.arange(st, ed) for st, ed in spans])
            self._cond_col = torch.repeat_interleave(torch.arange(len(spans)), torch.as_tensor(widths))
            self._cond_offset = torch.as_tensor(np.cumsum([0] + widths[:-1]), dtype=torch.long)

    def _real_cond(self, real: torch.Tensor) -> torch.Tensor:
        """Condition of each real row: its own category in one uniformly drawn categorical column.

        Row ``i``'s condition depends on row ``i`` only, so it stays inside
        that row's clipped per-sample gradient (no training-by-sampling).
        """
        col = torch.randint(len(self._cond_spans), (real.shape[0],))
        mask = (col.unsqueeze(1) == self._cond_col.unsqueeze(0)).to(real.dtype)
        return real[:, self._cond_idx] * mask

    def _fake_cond(self, n: int, g: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(cond (n, cond_dim), column (n,), category (n,))``.

        A uniform column, then a category from its released frequencies.
        """
        col = torch.randint(len(self._cond_spans), (n,), generator=g)
        cats = torch.stack([torch.multinomial(f, n, replacement=True, generator=g) for f in self.cond_freqs_])
        cat = cats[col, torch.arange(n)]
        cond = torch.zeros(n, self.cond_dim_)
        cond[torch.arange(n), self._cond_offset[col] + cat] = 1.0
        return cond, col, cat

    def _cond_loss(self, raw: torch.Tensor, col: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        """CTGAN's conditional loss: cross-entropy of the conditioned column's logits against the condition."""
        loss = raw.new_zeros(())
        for j, (st, ed) in enumerate(self._cond_spans):
            rows = col == j
            if rows.any():
                loss = loss + F.cross_entropy(raw[rows, st:ed], cat[rows], reduction="sum")
        return loss / raw.shape[0]

    def _activate(self, raw: torch.Tensor) -> torch.Tensor:
        """CTGAN's output activation: tanh on offsets, Gumbel-softmax (tau 0.2) on one-hot spans."""
        out = raw.clone()
        if len(self._tanh_idx):
            out[:, self._tanh_idx] = torch.tanh(raw[:, self._tanh_idx])
        for st, ed in self._spans:
            out[:, st:ed] = F.gumbel_softmax(raw[:, st:ed], tau=0.2)
        return out

    def _fake(self, n: int, g: torch.Generator | None = None):
        """``(rows (n, dim + cond_dim), raw logits, column, category)`` from the generator (with conditions)."""
        z = torch.randn((n, int(self.embedding_dim)), generator=g)
        if not self.cond_dim_:
            raw = self.generator_(z)
            return self._activate(raw), raw, None, None
        cond, col, cat = self._fake_cond(n, g)
        raw = self.generator_(torch.cat([z, cond], dim=1))
        return torch.cat([self._activate(raw), cond], dim=1), raw, col, cat

    def _disc_batch(self, real: torch.Tensor, bs: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One discriminator input: the real rows (label 1) then ``bs`` synthetic rows (label 0)."""
        if self.cond_dim_:
            real = torch.cat([real, self._real_cond(real)], dim=1)
        with torch.no_grad():
            fake = self._fake(bs)[0]
        return torch.cat([real, fake], dim=0), torch.cat([torch.ones(real.shape[0]), torch.zeros(bs)])

    def _generator_step(self, disc: nn.Module, hooks_off) -> float:
        """One generator update through the (frozen) discriminator: post-processing only."""
        bs = max(int(self.batch_size), 2)  # BatchNorm in the generator needs 2 rows
        with hooks_off():
            fake, raw, col, cat = self._fake(bs)
            logits = disc(fake).view(-1)
            loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            if self.cond_dim_:
                loss = loss + self._cond_loss(raw, col, cat)
            grads = torch.autograd.grad(loss, list(self.generator_.parameters()))
        for p, g in zip(self.generator_.parameters(), grads):
            p.grad = g
        self.opt_g_.step()
        return float(loss.item())

    def _fit_private(self, disc: nn.Module, opt_d, x: torch.Tensor) -> None:
        bs = max(int(self.batch_size), 2)  # BatchNorm in the generator needs 2 rows
        training = make_dp_training(
            module=disc,
            optimizer=opt_d,
            x=x,
            batch_size=int(self.batch_size),
            epochs=self.epochs,
            target_epsilon=self.epsilon_,
            target_delta=self.delta_,
            max_grad_norm=self.max_grad_norm,
            grad_sample_mode=self.grad_sample_mode,
            noise=self.noise_,
            pure_epsilons=self._pure_epsilons(),
            criterion=nn.BCEWithLogitsLoss(),
        )
        self.training_ = training
        dp_disc, dp_opt = training.module, training.optimizer

        @contextlib.contextmanager
        def hooks_off():
            if hasattr(dp_disc, "disable_hooks"):
                dp_disc.disable_hooks()
            try:
                yield
            finally:
                if hasattr(dp_disc, "enable_hooks"):
                    dp_disc.enable_hooks()

        dp_disc.train()
        self.generator_.train()
        bar = self._progress(self.epochs)
        t0 = time.perf_counter()
        for epoch, i, real in dp_batches(training):
            xin, y = self._disc_batch(real, bs)
            dp_opt.zero_grad(set_to_none=True)
            logits = dp_disc(xin).view(-1)
            if training.criterion is not None:
                loss_d = training.criterion(logits, y)
            else:
                loss_d = F.binary_cross_entropy_with_logits(logits, y)
            loss_d.backward()
            dp_opt.step()
            # the generator step runs the unwrapped discriminator with Opacus' hooks off
            self._generator_step(disc, hooks_off)
            if i == training.steps_per_epoch - 1:
                self._end_epoch(bar, epoch, t0)
                t0 = time.perf_counter()
        bar.close()
        self._finish_accounting()
        if hasattr(dp_disc, "_close"):
            dp_disc._close()
        self.training_ = replace(training, module=None, optimizer=None, loader=None, criterion=None)

    def _fit_plain(self, disc: nn.Module, opt_d, x: torch.Tensor) -> None:
        n, real_bs = x.shape[0], int(self.batch_size)
        bs = max(real_bs, 2)  # synthetic rows per step (BatchNorm in the generator needs 2)
        per_epoch = -(-n // real_bs)
        disc.train()
        self.generator_.train()
        bar = self._progress(self.epochs)
        t0 = time.perf_counter()
        for step, idx in enumerate(shuffled_batches(n, real_bs, per_epoch * int(self.epochs))):
            xin, y = self._disc_batch(x[idx], bs)
            opt_d.zero_grad(set_to_none=True)
            loss_d = F.binary_cross_entropy_with_logits(disc(xin).view(-1), y)
            loss_d.backward()
            opt_d.step()
            self._generator_step(disc, contextlib.nullcontext)
            if (step + 1) % per_epoch == 0:
                self._end_epoch(bar, step // per_epoch, t0)
                t0 = time.perf_counter()
        bar.close()
        self.spent_epsilon_ = float("inf")

    def _pure_epsilons(self) -> tuple[float, ...]:
        """DP bounds releases and the Laplace release of the category frequencies (composed with DP-SGD)."""
        return super()._pure_epsilons() + ((self.cond_epsilon_,) if self.cond_epsilon_ else ())

    def _scope(self):
        scope, notes, outside = super()._scope()
        cond = "conditional-vector:none"  # (privacy_spent replaces the whole scope at epsilon=inf)
        if self.cond_epsilon_:
            cond = (
                f"conditional-vector:laplace-frequencies(epsilon={self.cond_epsilon_:.4g}, "
                f"scale={self.cond_noise_scale_:.4g}=2m/epsilon_cond, {len(self._cond_spans)} columns, "
                "L1 sensitivity 2m under replace-one)"
            )
            notes.append(
                f"composition: the Laplace release (epsilon {self.cond_epsilon_:.4g}) and the DP bounds "
                "releases are (epsilon, 0)-DP events composed with DP-SGD in the PLD accountant; DP-SGD's "
                "noise is calibrated so that the composition meets the target"
            )
        return ["dp-sgd:discriminator", "generator:post-processing", cond] + scope, notes, outside

    # ------------------------------------------------------------- sample
    def _sample(self, n: int) -> pd.DataFrame:
        g = self._torch_generator()
        bs = max(int(self.batch_size), 2)  # BatchNorm in the generator needs 2 rows
        self.generator_.train()  # CTGAN samples with batch statistics, in batches of batch_size
        chunks = []
        with torch.no_grad():
            for _ in range(0, n, bs):
                chunks.append(self._fake(bs, g)[1])
        raw = torch.cat(chunks)[:n]
        return self._decode(raw, g, n)
