"""Confidence scoring functions (CSFs) from model outputs. Higher = more confident.

Inputs are logits or softmax probabilities of shape ``[n, C]``, or MC-dropout / ensemble
samples ``[M, n, C]`` (member axis first). numpy arrays give numpy results; torch tensors are
computed with torch on their own device (CUDA included) and give tensors. Natural log,
``0 log 0 = 0``.

Examples
--------
>>> import numpy as np
>>> from medtrust.selective import csf
>>> p = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]])
>>> csf.msr(p).tolist()
[0.7, 0.4]
>>> csf.residuals_from_predictions(p, [0, 1]).tolist()
[0.0, 1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medtrust._arrays import as_real, check_tensor_device, is_torch_tensor, to_numpy
from medtrust.exceptions import ShapeMismatchError

__all__ = [
    "energy",
    "mcd_ee",
    "mcd_mi",
    "mcd_msr",
    "mcd_pe",
    "mls",
    "msr",
    "pe",
    "residuals_from_predictions",
    "softmax",
]


def _arr(x: Any, name: str, ndim: int) -> Any:
    """Numpy or torch array of the expected rank (float64 numpy, float32+ torch)."""
    if is_torch_tensor(x):
        check_tensor_device(x, name)
        a = x.detach()
        if not a.is_floating_point() or a.dtype.itemsize < 4:
            a = a.float()
    else:
        a = np.asarray(to_numpy(x, name), dtype=np.float64)
    if a.ndim != ndim:
        shape = "[n, C]" if ndim == 2 else "[M, n, C]"
        raise ShapeMismatchError(f"{name} must have shape {shape}, got {tuple(a.shape)}")
    return a


def _xlogx_sum(p: Any) -> Any:
    """sum_c p log p over the last axis, with 0 log 0 = 0."""
    if is_torch_tensor(p):
        import torch

        return torch.special.xlogy(p, p).sum(-1)
    from scipy.special import xlogy

    return xlogy(p, p).sum(-1)


def softmax(logits: Any, temperature: float = 1.0) -> Any:
    """Numerically stable softmax over the last axis."""
    temperature = as_real(temperature, "temperature", lo=0.0, lo_open=True)
    if is_torch_tensor(logits):
        check_tensor_device(logits, "logits")
        return (logits / temperature).softmax(-1)
    z = np.asarray(to_numpy(logits, "logits"), dtype=np.float64) / temperature
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _max_last(a: Any) -> Any:
    return a.amax(-1) if is_torch_tensor(a) else a.max(-1)


def msr(probs: Any) -> Any:
    """Maximum softmax response ``max_c p_c`` of probabilities [n, C].

    Parameters
    ----------
    probs
        Probabilities ``[n, C]`` (numpy array or torch tensor; rows sum to 1).

    Returns
    -------
    array
        Confidence per sample ``[n]`` (higher = more confident), in [1/C, 1]; same library as the
        input (numpy or torch).
    """
    return _max_last(_arr(probs, "probs", 2))


def mls(logits: Any, temperature: float = 1.0) -> Any:
    """Maximum logit score ``max_c z_c / T`` (temperature-scaled when T != 1).

    Parameters
    ----------
    logits
        Logits ``[n, C]`` (numpy array or torch tensor).
    temperature
        Temperature T > 0 dividing the logits.

    Returns
    -------
    array
        Confidence per sample ``[n]`` (higher = more confident), in logit units; same library as the
        input (numpy or torch).
    """
    temperature = as_real(temperature, "temperature", lo=0.0, lo_open=True)
    return _max_last(_arr(logits, "logits", 2) / temperature)


def pe(probs: Any) -> Any:
    """Negative predictive entropy ``sum_c p log p`` of probabilities [n, C].

    Parameters
    ----------
    probs
        Probabilities ``[n, C]`` (numpy array or torch tensor; rows sum to 1).

    Returns
    -------
    array
        Confidence per sample ``[n]`` (higher = more confident), in [-log C, 0] nats; same library
        as the input (numpy or torch).
    """
    return _xlogx_sum(_arr(probs, "probs", 2))


def energy(logits: Any, temperature: float = 1.0) -> Any:
    """Energy score ``T logsumexp(z / T)`` (negative free energy).

    Parameters
    ----------
    logits
        Logits ``[n, C]`` (numpy array or torch tensor).
    temperature
        Temperature T > 0 dividing the logits.

    Returns
    -------
    array
        Confidence per sample ``[n]`` (higher = more confident), in logit units; same library as the
        input (numpy or torch).
    """
    temperature = as_real(temperature, "temperature", lo=0.0, lo_open=True)
    z = _arr(logits, "logits", 2) / temperature
    if is_torch_tensor(z):
        return temperature * z.logsumexp(-1)
    from scipy.special import logsumexp

    return temperature * logsumexp(z, axis=-1)


def mcd_msr(samples: Any) -> Any:
    """MSR of the mean over members of probability samples [M, n, C].

    Parameters
    ----------
    samples
        Probability samples ``[M, n, C]`` (MC-dropout passes or ensemble members).

    Returns
    -------
    array
        Confidence per sample ``[n]`` (higher = more confident), in [1/C, 1]; same library as the
        input (numpy or torch).
    """
    return _max_last(_arr(samples, "samples", 3).mean(0))


def mcd_pe(samples: Any) -> Any:
    """Negative entropy of the mean prediction of samples [M, n, C].

    Parameters
    ----------
    samples
        Probability samples ``[M, n, C]`` (MC-dropout passes or ensemble members).

    Returns
    -------
    array
        Confidence per sample ``[n]`` (higher = more confident), in [-log C, 0] nats; same library
        as the input (numpy or torch).
    """
    return _xlogx_sum(_arr(samples, "samples", 3).mean(0))


def mcd_ee(samples: Any) -> Any:
    """Negative expected entropy ``mean_m sum_c p_m log p_m`` of samples [M, n, C].

    Parameters
    ----------
    samples
        Probability samples ``[M, n, C]`` (MC-dropout passes or ensemble members).

    Returns
    -------
    array
        Confidence per sample ``[n]`` (higher = more confident), in [-log C, 0] nats; same library
        as the input (numpy or torch).
    """
    return _xlogx_sum(_arr(samples, "samples", 3)).mean(0)


def mcd_mi(samples: Any) -> Any:
    """Negative mutual information ``-(H(mean p) - mean_m H(p_m))`` of samples [M, n, C].

    Parameters
    ----------
    samples
        Probability samples ``[M, n, C]`` (MC-dropout passes or ensemble members).

    Returns
    -------
    array
        Confidence per sample ``[n]`` (higher = more confident), in [-log C, 0] nats; same library
        as the input (numpy or torch).
    """
    s = _arr(samples, "samples", 3)
    return _xlogx_sum(s.mean(0)) - _xlogx_sum(s).mean(0)


def residuals_from_predictions(outputs: Any, labels: Any) -> Any:
    """0/1 failures: ``argmax(outputs) != labels`` for outputs [n, C], or predictions [n].

    Parameters
    ----------
    outputs
        Scores ``[n, C]`` (probabilities or logits) or predicted classes ``[n]``.
    labels
        True class per sample ``[n]``.

    Returns
    -------
    array
        0/1 failure per sample (1 = wrong prediction); same library as the input.
    """
    if is_torch_tensor(outputs):
        import torch

        pred = outputs.argmax(-1) if outputs.ndim == 2 else outputs
        lab = torch.as_tensor(labels, device=pred.device)
        if pred.shape != lab.shape:
            raise ShapeMismatchError(
                f"predictions {tuple(pred.shape)} and labels {tuple(lab.shape)} differ"
            )
        return (pred != lab).to(torch.float32)
    out = to_numpy(outputs, "outputs")
    lab = np.asarray(to_numpy(labels, "labels"))
    pred = out.argmax(-1) if out.ndim == 2 else out
    if pred.shape != lab.shape:
        raise ShapeMismatchError(f"predictions {pred.shape} and labels {lab.shape} differ")
    return (pred != lab).astype(np.float64)
