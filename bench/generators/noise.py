"""Where a DP mechanism's randomness comes from: a seed (reproducible) or the OS's CSPRNG.

Every draw that a privacy proof treats as secret (Gaussian noise of DP-SGD and
of marginal measurements, Laplace noise of histograms, Poisson sampling masks,
Gumbel noise of the exponential mechanism) goes through one
:class:`NoiseSource`. Two kinds:

* ``seeded``: NumPy's PCG64 seeded from the run's seed. Reproducible, which is
  what a benchmark needs; but the seed is a config value written to
  ``run.json``, and whoever knows it can subtract the noise, so the guarantee
  holds only for someone who does not know the seed. The scope says so.
* ``secure``: bytes from ``os.urandom`` (the kernel's CSPRNG), turned into
  uniforms with 53 random bits each; normals by Box-Muller, Laplace and Gumbel
  by inverting their CDFs. Not reproducible. Still the textbook floating-point
  samplers, not the discretised or snapped mechanisms that close Mironov's
  floating-point attack (CCS 2012); the notes say so.

Randomness that no privacy proof depends on (weight initialisation, dropout
masks, sampling rows from a fitted model) may stay on the generator's seeded
streams in both kinds.

Source: Python's ``secrets`` module documentation (os.urandom as the CSPRNG);
Box & Muller (1958) for normals from uniforms.
"""

from __future__ import annotations

import math
import os

import numpy as np

KINDS = ("seeded", "secure")
_TWO_53 = float(2**53)


class NoiseSource:
    """Uniform, normal, Laplace and Gumbel draws for one mechanism.

    Args:
        secure: draw from ``os.urandom`` instead of a seeded generator.
        seed: seed of the seeded kind (ignored when ``secure``).
    Attributes:
        kind: ``"seeded"`` or ``"secure"``.
        seed: the seed (None for the secure kind).
    """

    def __init__(self, secure: bool = False, seed: int | None = 0) -> None:
        self.kind = "secure" if secure else "seeded"
        self.seed = None if secure else int(seed or 0)
        self._rng = None if secure else np.random.default_rng([self.seed, 0xD9])

    # ----------------------------------------------------------- primitives
    def uniform(self, size: int | tuple[int, ...]) -> np.ndarray:
        """Uniforms in the open interval (0, 1), float64, of shape ``size``."""
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        k = int(np.prod(shape)) if shape else 1
        if self._rng is not None:
            u = self._rng.random(k)
        else:
            bits = np.frombuffer(os.urandom(8 * k), dtype=np.uint64) >> np.uint64(11)
            u = bits.astype(np.float64) / _TWO_53
        # [0, 1) -> (0, 1): shift by half a step so log(u) and log(1 - u) are finite
        return (u + 0.5 / _TWO_53).reshape(shape)

    def normal(self, size: int | tuple[int, ...], scale: float = 1.0) -> np.ndarray:
        """N(0, scale^2) draws (Box-Muller on :meth:`uniform`)."""
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        k = int(np.prod(shape)) if shape else 1
        m = (k + 1) // 2
        u1, u2 = self.uniform(m), self.uniform(m)
        r = np.sqrt(-2.0 * np.log(u1))
        z = np.concatenate([r * np.cos(2 * math.pi * u2), r * np.sin(2 * math.pi * u2)])[:k]
        return (float(scale) * z).reshape(shape)

    def laplace(self, scale: float, size: int | tuple[int, ...]) -> np.ndarray:
        """Laplace(0, scale) draws by inverting the CDF."""
        u = self.uniform(size) - 0.5
        return -float(scale) * np.sign(u) * np.log1p(-2.0 * np.abs(u))

    def gumbel(self, size: int | tuple[int, ...]) -> np.ndarray:
        """Standard Gumbel draws (argmax of score + Gumbel = the exponential mechanism's choice)."""
        return -np.log(-np.log(self.uniform(size)))

    def bernoulli(self, p: float, size: int) -> np.ndarray:
        """Boolean mask, each entry True with probability ``p`` (Poisson sampling)."""
        return self.uniform(size) < float(p)

    def describe(self) -> str:
        """The ``rng`` field of :class:`~bench.generators.base.PrivacySpent`."""
        if self.kind == "secure":
            return "secure: os.urandom (the kernel CSPRNG); not reproducible"
        return (
            f"seeded: NumPy PCG64 from seed={self.seed}; reproducible, and the guarantee assumes the "
            "seed is secret (it is written to run.json)"
        )


__all__ = ["KINDS", "NoiseSource"]
