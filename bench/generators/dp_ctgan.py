"""``dp_ctgan``: a CTGAN-style GAN whose discriminator is trained with DP-SGD (Opacus).

Only the discriminator reads real rows; the generator is updated through the
discriminator's output on synthetic rows, so it is post-processing of a
differentially private model and needs no noise of its own.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from bench.generators.base import register
from bench.generators.dp_base import DPGeneratorBase, dp_batches, make_dp_training, quiet_opacus, shuffled_batches


@register("dp_ctgan")
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
    * No conditional vector and no training-by-sampling: CTGAN draws the
      condition from exact category frequencies and picks real rows that
      match it, which neither Poisson-samples rows nor keeps the frequencies
      private. Here real rows are Poisson-sampled and the generator is
      unconditional.
    * One combined backward per discriminator step: the Poisson batch of real
      rows (label 1) and a fixed number ``batch_size`` of synthetic rows
      (label 0) go through one forward and one backward, so a record's
      presence changes exactly one clipped per-sample gradient (Opacus cannot
      accumulate two backward passes under Poisson sampling).

    ``epsilon=inf`` trains the same networks with plain shuffled minibatches
    (no clipping, no noise).

    Args (beyond :class:`~bench.generators.dp_base.DPGeneratorBase`):
        embedding_dim: noise size fed to the generator (CTGAN default 128).
        generator_dim, discriminator_dim: hidden sizes (CTGAN default 256, 256).
        generator_lr, discriminator_lr: Adam learning rates (CTGAN 2e-4).
        generator_decay, discriminator_decay: Adam weight decay (CTGAN 1e-6).
    Source: Xu et al. 2019 (CTGAN); Abadi et al. 2016 (DP-SGD); Opacus DCGAN
        example (one combined discriminator backward per step).
    """

    def __init__(self, epsilon: float = 1.0, delta: float | None = None, epochs: int = 50,
                 batch_size: int = 500, max_grad_norm: float = 1.0, accountant: str = "prv",
                 grad_sample_mode: str = "ghost", n_bins: int = 10, allow_data_bounds: bool = False,
                 embedding_dim: int = 128, generator_dim=(256, 256), discriminator_dim=(256, 256),
                 generator_lr: float = 2e-4, discriminator_lr: float = 2e-4, generator_decay: float = 1e-6,
                 discriminator_decay: float = 1e-6, secure_mode: bool = False, verbose: bool = True,
                 random_state: int | None = None) -> None:
        super().__init__(epsilon=epsilon, delta=delta, epochs=epochs, batch_size=batch_size,
                         max_grad_norm=max_grad_norm, accountant=accountant, grad_sample_mode=grad_sample_mode,
                         n_bins=n_bins, allow_data_bounds=allow_data_bounds, secure_mode=secure_mode,
                         verbose=verbose, random_state=random_state)
        self.embedding_dim = embedding_dim
        self.generator_dim = generator_dim
        self.discriminator_dim = discriminator_dim
        self.generator_lr = generator_lr
        self.discriminator_lr = discriminator_lr
        self.generator_decay = generator_decay
        self.discriminator_decay = discriminator_decay

    # ---------------------------------------------------------------- fit
    def _fit(self, train: pd.DataFrame) -> None:
        from ctgan.synthesizers.ctgan import Discriminator, Generator

        self._check_settings(len(train))
        x = torch.from_numpy(self._fit_transformer(train))
        dim = self.transformer_.output_dimensions
        self.generator_ = Generator(int(self.embedding_dim), list(self.generator_dim), dim)
        disc = Discriminator(dim, list(self.discriminator_dim), pac=1)
        self.opt_g_ = torch.optim.Adam(self.generator_.parameters(), lr=float(self.generator_lr),
                                       betas=(0.5, 0.9), weight_decay=float(self.generator_decay))
        opt_d = torch.optim.Adam(disc.parameters(), lr=float(self.discriminator_lr), betas=(0.5, 0.9),
                                 weight_decay=float(self.discriminator_decay))
        self.epoch_times_: list[float] = []
        self.loss_history_: list[float] = []
        self._tanh_idx = torch.as_tensor(self.transformer_.tanh_positions(), dtype=torch.long)
        self._spans = [(st, ed) for _, st, ed in self.transformer_.softmax_spans()]
        with quiet_opacus():
            if self.private_:
                self._fit_private(disc, opt_d, x)
            else:
                self._fit_plain(disc, opt_d, x)
        self.opt_g_ = None

    def _activate(self, raw: torch.Tensor) -> torch.Tensor:
        """CTGAN's output activation: tanh on offsets, Gumbel-softmax (tau 0.2) on one-hot spans."""
        out = raw.clone()
        if len(self._tanh_idx):
            out[:, self._tanh_idx] = torch.tanh(raw[:, self._tanh_idx])
        for st, ed in self._spans:
            out[:, st:ed] = F.gumbel_softmax(raw[:, st:ed], tau=0.2)
        return out

    def _fake(self, n: int) -> torch.Tensor:
        z = torch.randn(n, int(self.embedding_dim))
        return self._activate(self.generator_(z))

    def _generator_step(self, disc: nn.Module, hooks_off) -> float:
        """One generator update through the (frozen) discriminator: post-processing only."""
        bs = max(int(self.batch_size), 2)  # BatchNorm in the generator needs 2 rows
        with hooks_off():
            logits = disc(self._fake(bs)).view(-1)
            loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            grads = torch.autograd.grad(loss, list(self.generator_.parameters()))
        for p, g in zip(self.generator_.parameters(), grads):
            p.grad = g
        self.opt_g_.step()
        return float(loss.item())

    def _fit_private(self, disc: nn.Module, opt_d, x: torch.Tensor) -> None:
        bs = max(int(self.batch_size), 2)  # BatchNorm in the generator needs 2 rows
        training = make_dp_training(module=disc, optimizer=opt_d, x=x, batch_size=int(self.batch_size),
                                    epochs=self.epochs,
                                    target_epsilon=self.epsilon_, target_delta=self.delta_,
                                    max_grad_norm=self.max_grad_norm, accountant=self.accountant,
                                    grad_sample_mode=self.grad_sample_mode, secure_mode=self.secure_mode,
                                    criterion=nn.BCEWithLogitsLoss())
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
        t0, running, count = time.perf_counter(), 0.0, 0
        for epoch, i, real in dp_batches(training):
            with torch.no_grad():
                fake = self._fake(bs)
            xin = torch.cat([real, fake], dim=0)
            y = torch.cat([torch.ones(real.shape[0]), torch.zeros(bs)])
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
            running += float(loss_d.item())
            count += 1
            if i == training.steps_per_epoch - 1:
                self.loss_history_.append(running / max(count, 1))
                self._end_epoch(bar, epoch, running / max(count, 1), t0)
                t0, running, count = time.perf_counter(), 0.0, 0
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
        t0, running = time.perf_counter(), 0.0
        for step, idx in enumerate(shuffled_batches(n, real_bs, per_epoch * int(self.epochs))):
            real = x[idx]
            with torch.no_grad():
                fake = self._fake(bs)
            xin = torch.cat([real, fake], dim=0)
            y = torch.cat([torch.ones(real.shape[0]), torch.zeros(bs)])
            opt_d.zero_grad(set_to_none=True)
            loss_d = F.binary_cross_entropy_with_logits(disc(xin).view(-1), y)
            loss_d.backward()
            opt_d.step()
            self._generator_step(disc, contextlib.nullcontext)
            running += float(loss_d.item())
            if (step + 1) % per_epoch == 0:
                self.loss_history_.append(running / per_epoch)
                self._end_epoch(bar, step // per_epoch, running / per_epoch, t0)
                t0, running = time.perf_counter(), 0.0
        bar.close()
        self.spent_epsilon_ = float("inf")

    def _scope(self):
        scope, notes = super()._scope()
        return (["dp-sgd:discriminator", "generator:post-processing", "conditional-vector:none"] + scope,
                notes)

    # ------------------------------------------------------------- sample
    def _sample(self, n: int) -> pd.DataFrame:
        g = self._torch_generator()
        bs = max(int(self.batch_size), 2)  # BatchNorm in the generator needs 2 rows
        self.generator_.train()  # CTGAN samples with batch statistics, in batches of batch_size
        chunks = []
        with torch.no_grad():
            for start in range(0, n, bs):
                z = torch.randn((bs, int(self.embedding_dim)), generator=g)
                chunks.append(self.generator_(z))
        raw = torch.cat(chunks)[:n]
        return self._decode(raw, g, n)
