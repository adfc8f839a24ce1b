"""torch-uncertainty's selective metrics (``AURC``, ``AUGRC``, ``CovAt5Risk``, ``RiskAt80Cov``...).

Also ``FPRx`` / ``FPR95`` and the adaptive calibration error (``AdaptiveCalibrationError``,
``BinaryAdaptiveCalibrationError``, ``MulticlassAdaptiveCalibrationError``), from
:mod:`medtrust.compat._tu_extra` (conventions there).

Change ``from torch_uncertainty.metrics import AURC`` to
``from medtrust.compat.torch_uncertainty import AURC``. The classes are ``torchmetrics.Metric``
subclasses (states ``scores`` / ``errors`` with ``dist_reduce_fx="cat"``), built on first
access so that importing this module imports neither peer.

torch-uncertainty's conventions, reproduced:

- ``update(probs, targets)``: confidence = max probability (a 1-D ``probs`` is P(class 1)),
  error = ``argmax != target``;
- one curve point per sample: at coverage k/n the selective risk is the error rate of the k most
  confident samples (no tie groups);
- ``AURC`` / ``AUGRC``: trapezoid area over coverages 1/n .. 1, divided by ``1 - 1/n`` (NaN for
  n < 2); ``CovAtxRisk``: the largest coverage k/n whose risk is <= the threshold (NaN if none);
  ``RiskAtxCov``: the risk at ``ceil(n * cov) / n``.

Ties: with one point per sample, the peer's value depends on the order in which tied
confidences come out of ``torch.argsort`` (an unstable sort, i.e. on input order and backend).
``ties="input"`` (default) sorts the same way and reproduces the peer; ``ties="exact"`` gives the
order-free value: the expectation over every order of the tied samples, which replaces each tie
group's cumulative error count by its linear interpolation (exact for ``AURC``, ``AUGRC`` and
``RiskAtxCov``, whose values are linear in that count; ``CovAtxRisk`` reads the same expected
curve).

Examples
--------
>>> import torch
>>> from medtrust.compat.torch_uncertainty import AURC
>>> m = AURC()
>>> m.update(torch.tensor([0.9, 0.8, 0.3, 0.6]), torch.tensor([1, 0, 0, 1]))
>>> round(float(m.compute()), 4)
0.3194
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch

from medtrust.compat._tu_extra import build_extra_classes
from medtrust.exceptions import InvalidArgumentError, InvalidValueError

__all__ = [
    "AUGRC",  # noqa: F822 (built on first access)
    "AURC",  # noqa: F822 (built on first access)
    "FPR95",  # noqa: F822 (built on first access)
    "AdaptiveCalibrationError",  # noqa: F822 (built on first access)
    "BinaryAdaptiveCalibrationError",  # noqa: F822 (built on first access)
    "CovAt5Risk",  # noqa: F822 (built on first access)
    "CovAtxRisk",  # noqa: F822 (built on first access)
    "FPRx",  # noqa: F822 (built on first access)
    "MulticlassAdaptiveCalibrationError",  # noqa: F822 (built on first access)
    "RiskAt80Cov",  # noqa: F822 (built on first access)
    "RiskAtxCov",  # noqa: F822 (built on first access)
    "error_rates",
    "patch",
    "patched",
    "unpatch",
]

TIES: tuple[str, ...] = ("input", "exact")


def error_rates(scores: torch.Tensor, errors: torch.Tensor, ties: str = "input") -> torch.Tensor:
    """Selective risk of the k most confident samples, k = 1..n (see the module docs).

    Examples
    --------
    >>> error_rates(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]), ties="exact")
    tensor([0.5000, 0.5000])
    """
    if ties not in TIES:
        raise InvalidArgumentError(f"ties must be one of {TIES}, got {ties!r}")
    order = scores.argsort(descending=True)
    s, e = scores[order], errors[order]
    cum = e.cumsum(dim=-1)
    if ties == "exact" and s.numel() > 1:
        # Expected cumulative errors over tie orders: linear inside each tie group.
        new = torch.ones_like(s, dtype=torch.bool)
        new[1:] = s[1:] != s[:-1]
        gid = new.cumsum(0) - 1
        n_g = int(gid[-1]) + 1
        size = torch.zeros(n_g, dtype=cum.dtype, device=s.device).index_add_(
            0, gid, torch.ones_like(e)
        )
        err = torch.zeros(n_g, dtype=cum.dtype, device=s.device).index_add_(0, gid, e)
        before = torch.cumsum(err, 0) - err
        pos = torch.arange(s.numel(), device=s.device) - (torch.cumsum(size, 0) - size)[gid]
        cum = before[gid] + (pos + 1) * (err / size)[gid]
    k = torch.arange(1, s.numel() + 1, dtype=scores.dtype, device=scores.device)
    return cum / k


def _trapezoid(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)


def _check_threshold(value: Any, name: str) -> float:
    if not isinstance(value, float):
        raise InvalidArgumentError(f"{name} must be a float, got {type(value).__name__}")
    if not 0 <= value <= 1:
        raise InvalidValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def _build() -> dict[str, type]:
    from torchmetrics import Metric

    class _Base(Metric):
        is_differentiable = False
        full_state_update = False
        scores: list[torch.Tensor]
        errors: list[torch.Tensor]

        def __init__(self, ties: str = "input", **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if ties not in TIES:
                raise InvalidArgumentError(f"ties must be one of {TIES}, got {ties!r}")
            self.ties = ties
            self.add_state("scores", default=[], dist_reduce_fx="cat")
            self.add_state("errors", default=[], dist_reduce_fx="cat")

        def update(self, probs: torch.Tensor, targets: torch.Tensor) -> None:
            if probs.ndim == 1:
                probs = torch.stack([1 - probs, probs], dim=-1)
            self.scores.append(probs.max(-1).values)
            self.errors.append((probs.argmax(-1) != targets) * 1.0)

        def _cat(self) -> tuple[torch.Tensor, torch.Tensor]:
            def cat(x: Any) -> torch.Tensor:
                if isinstance(x, torch.Tensor):
                    return x
                if not x:
                    return torch.zeros(0, device=self.device)
                return torch.cat([t.reshape(-1) for t in x])

            return cat(self.scores), cat(self.errors)

        def partial_compute(self) -> torch.Tensor:
            s, e = self._cat()
            return error_rates(s, e, self.ties)

        def _nan(self) -> torch.Tensor:
            return torch.tensor([float("nan")], device=self.device)

    class AURC(_Base):
        """Normalised area under the per-sample risk-coverage curve (torch-uncertainty)."""

        higher_is_better = False

        def _curve(self, rates: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
            return rates

        def compute(self) -> torch.Tensor:
            rates = self.partial_compute()
            n = rates.size(0)
            if n < 2:
                return self._nan()
            cov = torch.arange(1, n + 1, device=rates.device) / n
            return _trapezoid(cov, self._curve(rates, cov)) / (1 - 1 / n)

    class AUGRC(AURC):
        """Normalised area under the per-sample generalized-risk curve (torch-uncertainty)."""

        def _curve(self, rates: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
            return rates * cov

    class CovAtxRisk(_Base):
        """Largest coverage whose selective risk is <= ``risk_threshold`` (NaN if none)."""

        higher_is_better = True

        def __init__(self, risk_threshold: float, ties: str = "input", **kwargs: Any) -> None:
            super().__init__(ties=ties, **kwargs)
            self.risk_threshold = _check_threshold(risk_threshold, "risk_threshold")

        def compute(self) -> torch.Tensor:
            s, _ = self._cat()
            n = s.size(0)
            if n < 1:
                return self._nan()
            ok = torch.nonzero(self.partial_compute() <= self.risk_threshold).flatten()
            if ok.numel() == 0:
                return self._nan()
            return (ok[-1] + 1) / n

    class CovAt5Risk(CovAtxRisk):
        """``CovAtxRisk`` at risk 5 %."""

        def __init__(self, ties: str = "input", **kwargs: Any) -> None:
            super().__init__(risk_threshold=0.05, ties=ties, **kwargs)

    class RiskAtxCov(_Base):
        """Selective risk at coverage ``ceil(n * cov_threshold) / n``."""

        higher_is_better = False

        def __init__(self, cov_threshold: float, ties: str = "input", **kwargs: Any) -> None:
            super().__init__(ties=ties, **kwargs)
            self.cov_threshold = _check_threshold(cov_threshold, "cov_threshold")

        def compute(self) -> torch.Tensor:
            rates = self.partial_compute()
            k = math.ceil(rates.size(0) * self.cov_threshold) - 1
            if not 0 <= k < rates.size(0):
                raise InvalidValueError(
                    f"no sample at coverage {self.cov_threshold} (n = {rates.size(0)})"
                )
            return rates[k]

    class RiskAt80Cov(RiskAtxCov):
        """``RiskAtxCov`` at coverage 80 %."""

        def __init__(self, ties: str = "input", **kwargs: Any) -> None:
            super().__init__(cov_threshold=0.8, ties=ties, **kwargs)

    classes = (AURC, AUGRC, CovAtxRisk, CovAt5Risk, RiskAtxCov, RiskAt80Cov)
    built = {c.__name__: c for c in classes} | build_extra_classes(Metric)
    for c in built.values():
        c.__module__ = __name__
    return built


_CLASSES: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        if not _CLASSES:
            _CLASSES.update(_build())
        return _CLASSES[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- patching --------------------------------------------------------------------------------------
_NAMES = (
    "AURC",
    "AUGRC",
    "CovAtxRisk",
    "CovAt5Risk",
    "RiskAtxCov",
    "RiskAt80Cov",
    "FPRx",
    "FPR95",
    "AdaptiveCalibrationError",
    "BinaryAdaptiveCalibrationError",
    "MulticlassAdaptiveCalibrationError",
)
_MODULES = (
    "torch_uncertainty.metrics",
    "torch_uncertainty.metrics.classification",
    "torch_uncertainty.metrics.classification.risk_coverage",
    "torch_uncertainty.metrics.classification.fpr",
    "torch_uncertainty.metrics.classification.calibration",
    "torch_uncertainty.metrics.classification.calibration.adaptive_calibration_error",
)


def patch(names: Sequence[str] | None = None) -> list[str]:
    """Make ``torch_uncertainty.metrics`` answer with the shims; returns the replaced names.

    Examples
    --------
    >>> import torch_uncertainty.metrics as tum
    >>> "torch_uncertainty.metrics.AURC" in patch()
    True
    >>> tum.AURC.__module__, len(unpatch()) > 0
    ('medtrust.compat.torch_uncertainty', True)
    """
    from medtrust.compat import _patching

    chosen = list(_NAMES if names is None else names)
    unknown = sorted(set(chosen) - set(_NAMES))
    if unknown:
        raise InvalidArgumentError(f"torch_uncertainty names without a shim: {unknown}")
    shims = {n: __getattr__(n) for n in chosen}
    return _patching.apply("torch_uncertainty", shims, {n: list(_MODULES) for n in chosen})


def unpatch() -> list[str]:
    """Restore every name :func:`patch` replaced; returns them."""
    from medtrust.compat import _patching

    return _patching.restore("torch_uncertainty")


def patched(names: Sequence[str] | None = None) -> AbstractContextManager[list[str]]:
    """Context manager: :func:`patch` on entry, :func:`unpatch` on exit (yields the report)."""
    from medtrust.compat import _patching

    return _patching.scoped(patch, unpatch, names)
