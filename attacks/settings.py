"""Settings of the privacy families: the default attack set and the shadow-model audit.

One place for every key of the ``attacks`` config (``conf/attacks/*.yaml``):
:data:`DEFAULTS` for the default attack set (:mod:`attacks.run`),
:data:`SHADOW_DEFAULTS` and :data:`AUDIT_DEFAULTS` for the ``shadow:`` and
``audit:`` blocks that the audit family reads (:mod:`attacks.audit`). Each
``*_settings`` function merges a config over its defaults, rejects unknown
keys and checks values, raising ConfigError with the dotted name of the
setting at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from typing import Any

import numpy as np

from attacks import anonymeter as anon
from attacks.membership import ATTACKS, DEFAULT_ATTACKS
from attacks.shadow import CLASSIFIERS, FEATURE_SETS
from attacks.targets import METHODS, SUBGROUPS
from bench.errors import ConfigError

AUDIT_SECTIONS = ("shadow", "audit")  # blocks of the attacks config read by the audit family


DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "seed_offset": 0,
    "targets": {"method": "knn", "k": 5, "quantile": 0.95},
    "distance": {"enabled": True, "max_rows": 5000},
    "membership": {
        "enabled": True,
        "attacks": list(DEFAULT_ATTACKS),
        "n_targets": 5000,
        "headline": "best",
        "fprs": [0.001, 0.01, 0.1],
        "n_vulnerable": 10,
        "domias": {"density": "gmm", "bandwidth": "scott", "n_components": 10},
    },
    "anonymeter": {
        "enabled": True,
        "subgroups": ["all", "outliers"],
        "confidence_level": 0.95,
        "singling_out": {
            "enabled": True,
            "modes": ["multivariate"],
            "n_attacks": 500,
            "n_cols": 5,
            "max_attempts": 10000,
        },
        "linkability": {"enabled": True, "n_attacks": 500, "n_neighbors": 10, "columns": "all_columns"},
        "inference": {"enabled": True, "n_attacks": 1000, "aux": "quasi_identifiers"},
    },
}


def settings(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """The default attack set's settings: ``cfg`` over :data:`DEFAULTS`, checked.

    The ``shadow`` and ``audit`` blocks of the same config belong to the audit
    family (:func:`audit_settings`) and are left out here.

    Raises:
        ConfigError: unknown keys or invalid values, naming the setting.
    """
    out = deepcopy(DEFAULTS)
    raw = {k: v for k, v in plain_config(cfg or {}).items() if k not in AUDIT_SECTIONS}
    merge_settings(out, raw, "attacks")
    t = out["targets"]
    if t["method"] not in METHODS:
        raise ConfigError(f"attacks.targets.method must be one of {METHODS}, got {t['method']!r}")
    m = out["membership"]
    bad = [a for a in m["attacks"] if a not in ATTACKS]
    if bad or not m["attacks"]:
        raise ConfigError(f"attacks.membership.attacks must be a non-empty subset of {ATTACKS}, got {m['attacks']}")
    if m["headline"] != "best" and m["headline"] not in m["attacks"]:
        raise ConfigError(f"attacks.membership.headline must be 'best' or one of {m['attacks']}, got {m['headline']!r}")
    if not isinstance(m["n_vulnerable"], int) or m["n_vulnerable"] < 0:
        raise ConfigError(f"attacks.membership.n_vulnerable must be an integer >= 0, got {m['n_vulnerable']!r}")
    a = out["anonymeter"]
    bad = [g for g in a["subgroups"] if g not in SUBGROUPS]
    if bad:
        raise ConfigError(f"attacks.anonymeter.subgroups must be among {SUBGROUPS}, got {bad}")
    bad = [md for md in a["singling_out"]["modes"] if md not in anon.MODES]
    if bad:
        raise ConfigError(f"attacks.anonymeter.singling_out.modes must be among {anon.MODES}, got {bad}")
    if a["linkability"]["columns"] not in anon.LINK_SOURCES:
        raise ConfigError(
            f"attacks.anonymeter.linkability.columns must be one of {anon.LINK_SOURCES}, "
            f"got {a['linkability']['columns']!r}"
        )
    if not isinstance(a["linkability"]["n_neighbors"], int) or a["linkability"]["n_neighbors"] < 1:
        raise ConfigError(
            f"attacks.anonymeter.linkability.n_neighbors must be an integer >= 1, "
            f"got {a['linkability']['n_neighbors']!r}"
        )
    if a["inference"]["aux"] not in ("quasi_identifiers", "all"):
        raise ConfigError(
            f"attacks.anonymeter.inference.aux must be quasi_identifiers or all, got {a['inference']['aux']!r}"
        )
    for path, v in (
        ("membership.n_targets", m["n_targets"]),
        ("distance.max_rows", out["distance"]["max_rows"]),
        ("anonymeter.singling_out.n_attacks", a["singling_out"]["n_attacks"]),
        ("anonymeter.linkability.n_attacks", a["linkability"]["n_attacks"]),
        ("anonymeter.inference.n_attacks", a["inference"]["n_attacks"]),
    ):
        if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 10):
            raise ConfigError(f"attacks.{path} must be an integer >= 10 (or null), got {v!r}")
    return out


def plain_config(cfg: Any) -> dict[str, Any]:
    """``cfg`` (an OmegaConf DictConfig or a mapping) as plain, resolved dicts."""
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return dict(cfg)


def merge_settings(base: dict[str, Any], over: Mapping[str, Any], path: str) -> None:
    """Merge ``over`` into ``base`` in place, recursing into dicts.

    Raises:
        ConfigError: a key of ``over`` that ``base`` does not have, named by its
            dotted ``path`` (e.g. ``attacks.membership.n_target``).
    """
    for k, v in over.items():
        if k not in base:
            raise ConfigError(f"{path}.{k} is not a known setting; known: {sorted(base)}")
        if isinstance(base[k], dict) and isinstance(v, Mapping):
            merge_settings(base[k], v, f"{path}.{k}")
        else:
            base[k] = v


# ------------------------------------------------------------ the audit's blocks
SHADOW_DEFAULTS: dict[str, Any] = {
    "enabled": False,  # the shadow-model MIA (and the audit) are off unless attacks=full
    "design": "shared",  # shared: every fit is a game for every target | per_target
    "n_outliers": 5,  # top outliers of the training split (attacks/targets.py)
    "n_random": 5,  # random training records
    "n_train": 1000,  # shadow training-set size (null = size of the real training split)
    "n_synthetic": None,  # rows per shadow table (null = background rows n_train - ceil(T/2))
    "games": {"train": 60, "val": 40, "test": 60},  # generator fits per part (shared) / per target
    "features": ["naive", "histogram", "correlation", "neighbourhood"],
    "classifier": "rf",  # rf | logreg
    "n_bins": 10,
    "cache": False,  # store shadow synthetic tables (full.yaml: ${cache.enabled})
    "cache_dir": None,  # full.yaml: ${cache.dir}
    "cache_refresh": False,
    "seed_offset": 0,
}


AUDIT_DEFAULTS: dict[str, Any] = {
    "enabled": True,  # needs shadow.enabled
    "alpha": 0.05,  # eps_lb holds with confidence 1 - alpha (alpha/2 per Clopper-Pearson bound)
    "statistics": ["classifier", "min_distance"],
}


STATISTICS = ("classifier", "min_distance")


def audit_settings(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``shadow`` and ``audit`` settings from an ``attacks`` config, over the defaults.

    Args:
        cfg: the whole ``attacks`` config (other sections are ignored).
    Returns:
        ``{"shadow": {...}, "audit": {...}, "seed_offset": int}``.
    Raises:
        ConfigError: an unknown key or an invalid value, naming the setting.
    """
    raw = plain_config(cfg or {})
    out = {"shadow": deepcopy(SHADOW_DEFAULTS), "audit": deepcopy(AUDIT_DEFAULTS)}
    for sec in ("shadow", "audit"):
        if raw.get(sec) is not None:
            merge_settings(out[sec], raw[sec], f"attacks.{sec}")
    out["seed_offset"] = int(raw.get("seed_offset", 0) or 0)
    sh, au = out["shadow"], out["audit"]
    if sh["design"] not in ("shared", "per_target"):
        raise ConfigError(f"attacks.shadow.design must be shared or per_target, got {sh['design']!r}")
    for key in ("n_outliers", "n_random"):
        if not _is_int(sh[key]) or sh[key] < 0:
            raise ConfigError(f"attacks.shadow.{key} must be an integer >= 0, got {sh[key]!r}")
    if sh["n_outliers"] + sh["n_random"] < 1:
        raise ConfigError("attacks.shadow needs at least one target (n_outliers + n_random >= 1)")
    for key in ("n_train", "n_synthetic"):
        if sh[key] is not None and (not _is_int(sh[key]) or sh[key] < 10):
            raise ConfigError(f"attacks.shadow.{key} must be an integer >= 10 (or null), got {sh[key]!r}")
    games = sh["games"]
    for part, lo in (("train", 4), ("val", 2), ("test", 2)):
        if not _is_int(games.get(part)) or games[part] < lo:
            raise ConfigError(f"attacks.shadow.games.{part} must be an integer >= {lo}, got {games.get(part)!r}")
    bad = [f for f in sh["features"] if f not in FEATURE_SETS]
    if bad or not sh["features"]:
        raise ConfigError(f"attacks.shadow.features must be a non-empty subset of {FEATURE_SETS}, got {sh['features']}")
    if sh["classifier"] not in CLASSIFIERS:
        raise ConfigError(f"attacks.shadow.classifier must be one of {CLASSIFIERS}, got {sh['classifier']!r}")
    if not _is_int(sh["n_bins"]) or sh["n_bins"] < 2:
        raise ConfigError(f"attacks.shadow.n_bins must be an integer >= 2, got {sh['n_bins']!r}")
    if not 0 < float(au["alpha"]) < 1:
        raise ConfigError(f"attacks.audit.alpha must be in (0, 1), got {au['alpha']!r}")
    bad = [s for s in au["statistics"] if s not in STATISTICS]
    if bad or not au["statistics"]:
        raise ConfigError(
            f"attacks.audit.statistics must be a non-empty subset of {STATISTICS}, got {au['statistics']}"
        )
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


__all__ = [
    "AUDIT_DEFAULTS",
    "AUDIT_SECTIONS",
    "DEFAULTS",
    "SHADOW_DEFAULTS",
    "STATISTICS",
    "audit_settings",
    "merge_settings",
    "plain_config",
    "settings",
]
