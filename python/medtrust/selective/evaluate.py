"""Evaluate CSFs on a polars DataFrame: one row per (group, CSF) with every metric.

This is how papers compare many CSFs across datasets and shifts.

Examples
--------
>>> import polars as pl
>>> from medtrust.selective import evaluate
>>> df = pl.DataFrame({"msr": [0.9, 0.8, 0.8, 0.3], "failed": [0, 1, 0, 1], "ds": ["a"] * 4})
>>> evaluate(df, confid="msr", residual="failed", by=["ds"]).select("ds", "csf", "aurc").row(0)
('a', 'msr', 0.1875)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from medtrust._arrays import NanPolicy
from medtrust.exceptions import InvalidArgumentError
from medtrust.selective.bootstrap import paired_bootstrap
from medtrust.selective.metrics import metrics

if TYPE_CHECKING:
    import polars as pl

__all__ = ["evaluate"]

_CI_METRICS = ("aurc", "augrc", "eaurc", "naurc", "failure_auroc")


def evaluate(
    df: Any,
    *,
    confid: str | Sequence[str],
    residual: str,
    by: Sequence[str] = (),
    labels: str | None = None,
    ci: bool = False,
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    nan_policy: NanPolicy = "raise",
    check_range: bool = True,
) -> pl.DataFrame:
    """Every selective metric per group and CSF.

    Parameters
    ----------
    df
        polars DataFrame (a pandas one is converted).
    confid
        Column(s) holding confidences; each becomes a ``csf`` value in the output.
    residual
        Column of residuals.
    by
        Grouping columns (e.g. dataset, domain); groups come out sorted.
    labels
        Optional class-label column for the balanced metrics.
    ci
        Add ``<metric>_low`` / ``<metric>_high`` paired-bootstrap CIs for the main metrics.
    """
    import polars as pl

    if not isinstance(df, pl.DataFrame):
        try:
            df = pl.from_pandas(df)
        except Exception as e:  # pragma: no cover - depends on the caller's object
            raise InvalidArgumentError(f"df must be a polars DataFrame: {e}") from e
    confs = [confid] if isinstance(confid, str) else list(confid)
    by = list(by)
    needed = [*confs, residual, *by, *([labels] if labels else [])]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InvalidArgumentError(f"columns not in the DataFrame: {missing}; have {df.columns}")
    groups = df.partition_by(by, as_dict=True, maintain_order=True) if by else {(): df}
    rows = []
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        part = groups[key]
        lab = part[labels].to_numpy() if labels else None
        res = part[residual].to_numpy()
        boot = None
        if ci:
            boot = paired_bootstrap(
                {c: part[c].to_numpy() for c in confs},
                res,
                n_resamples=n_resamples,
                seed=seed,
                labels=lab,
                nan_policy=nan_policy,
                check_range=check_range,
            )
        for c in confs:
            m = metrics(
                part[c].to_numpy(),
                res,
                labels=lab,
                nan_policy=nan_policy,
                check_range=check_range,
            )
            row: dict[str, Any] = dict(zip(by, key))
            row["csf"] = c
            row.update(m.to_dict())
            if boot is not None:
                for name in _CI_METRICS:
                    interval = boot.ci(name, alpha=alpha)[c]
                    row[f"{name}_low"], row[f"{name}_high"] = interval.low, interval.high
            rows.append(row)
    return pl.DataFrame(rows)
