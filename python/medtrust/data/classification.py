"""A realistic synthetic classification set with several CSFs of different quality.

Logits come from a class-conditional model where a latent per-sample difficulty controls how
separable the true class is; MC-dropout samples perturb the logits. Probabilities are rounded to
``decimals`` (like float16 exports), which creates the confidence ties real CSFs have. A
``domain`` column marks an i.i.d. part and a shifted part (harder samples, lower accuracy).

Examples
--------
>>> from medtrust.data import synthetic_classification
>>> df = synthetic_classification(n=1000, seed=0)
>>> sorted(df.columns)[:4]
['domain', 'energy', 'failed', 'label']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from medtrust.selective import csf

if TYPE_CHECKING:
    import polars as pl


def synthetic_classification(
    n: int = 20_000,
    *,
    n_classes: int = 5,
    n_mc: int = 8,
    shift_fraction: float = 0.3,
    decimals: int = 3,
    seed: int = 0,
) -> pl.DataFrame:
    """Labels, predictions, 0/1 failures and the CSF columns msr, mls, pe, energy, mcd_*.

    Also adds ``random`` (an uninformative CSF) for reference.

    Parameters
    ----------
    n
        Number of samples.
    n_classes
        Number of classes.
    n_mc
        MC-dropout samples behind the ``mcd_*`` CSFs.
    shift_fraction
        Fraction of samples in the shifted domain.
    decimals
        Decimals the confidences are rounded to (ties as in real outputs).
    seed
        Seed of every random draw.

    Returns
    -------
    polars.DataFrame
        ``label, pred, failed, domain`` and the CSF columns (higher = more confident).
    """
    import polars as pl

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    shifted = rng.random(n) < shift_fraction
    # Difficulty: shifted samples are harder on average.
    margin = rng.gamma(2.0, 1.2, n) * np.where(shifted, 0.55, 1.0)
    logits = rng.normal(0.0, 1.0, (n, n_classes))
    logits[np.arange(n), labels] += margin
    # Epistemic noise: larger for shifted samples, which MC samples reveal.
    noise_scale = np.where(shifted, 1.2, 0.5)[None, :, None]
    mc_logits = logits[None] + rng.normal(0.0, 1.0, (n_mc, n, n_classes)) * noise_scale
    mc_probs = np.round(csf.softmax(mc_logits), decimals)
    probs = np.round(csf.softmax(logits), decimals)
    pred = logits.argmax(1)
    return pl.DataFrame(
        {
            "label": labels,
            "pred": pred,
            "failed": (pred != labels).astype(np.float64),
            "domain": np.where(shifted, "shift", "iid"),
            "msr": csf.msr(probs),
            "mls": np.round(csf.mls(logits), decimals),
            "pe": np.round(csf.pe(probs), decimals),
            "energy": np.round(csf.energy(logits), decimals),
            "mcd_msr": np.round(csf.mcd_msr(mc_probs), decimals),
            "mcd_pe": np.round(csf.mcd_pe(mc_probs), decimals),
            "mcd_ee": np.round(csf.mcd_ee(mc_probs), decimals),
            "mcd_mi": np.round(csf.mcd_mi(mc_probs), decimals),
            "random": np.round(rng.random(n), 2),
        }
    )
