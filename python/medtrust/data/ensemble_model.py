"""A documented model of a segmentation ensemble: simulated cases for failure detection.

Each case has a reference with two foreground classes (an irregular "organ" and a smaller
"lesion" inside it) and an ensemble of M members whose softmax maps follow a documented model
of a trained segmentation ensemble:

1. **What the model perceives.** Structural shifts change the anatomy the model "sees" before
   anything else: ``missing`` drops the lesion (it is predicted as organ), ``extra`` adds a
   spurious lesion, ``resolution`` sees the anatomy through a coarse grid (staircase
   boundaries). Every case then gets a smooth boundary displacement field ``D_k`` (mm) per
   class, small on i.i.d. cases and larger under shift: this is where the prediction is wrong.
2. **Logits from signed distances.** Let ``s_k`` be the signed distance (mm, positive inside)
   to the boundary of the true class-k region and ``e_k`` the model's error in that evidence
   (perceived minus true, displacement included). Member m's logit of class k at voxel x is
   ``clip(s_k + (1 - f_mk) e_k + jitter * n_mk, -cap, cap) / T_m``: ``f_mk`` is a smooth
   random field, uniform in ``[0, disagreement]``, the share of the error member m happens to
   get right; ``n_mk`` a smooth unit-variance field (boundary jitter); ``T_m`` the member's
   temperature (mm per nat; log-normal around the case temperature); ``cap`` the distance at
   which confidence saturates. Member boundaries therefore fan out between the true and the
   perceived boundary, so **members disagree where the prediction is wrong** (and only a little
   elsewhere).
3. **Shifts act like the benchmark's** (:data:`SHIFT_EFFECTS`, each scaled by a severity in
   [0, 1]): ``intensity`` (brightness / contrast: boundaries move, the model is
   less sure and its members disagree), ``noise`` (voxel-level logit noise: speckle errors,
   higher entropy), ``blur`` (softer boundaries, thin structures shrink), ``resolution``
   (staircases), ``missing`` / ``extra`` structure. The structural shifts keep the members
   sure of themselves (small ``disagreement``, no temperature gain): **confident failures**,
   as real models produce under such shifts, so a shifted case is not always more uncertain.

With the defaults the mean entropy of the ensemble's mean softmax over the predicted
foreground lies between about 0.1 and 0.5 nats (about 0.15-0.25 on i.i.d. cases of
32 x 32 x 24 voxels), within the 0.05-0.5 of real segmentation ensembles.
:func:`simulate_failure_case` returns one case in memory;
:func:`medtrust.data.failure_cases.synthetic_failure_cases` writes a whole folder of them.

Examples
--------
>>> from medtrust.data.ensemble_model import simulate_failure_case
>>> case = simulate_failure_case((16, 16, 12), n_members=3, shift="noise", seed=0)
>>> case.probabilities.shape, case.truth.shape
((3, 3, 16, 16, 12), (16, 16, 12))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from medtrust.exceptions import InvalidArgumentError

__all__ = [
    "SHIFT_EFFECTS",
    "EnsembleModel",
    "ShiftEffect",
    "SyntheticCase",
    "simulate_failure_case",
]


@dataclass(frozen=True)
class EnsembleModel:
    """Parameters of the simulated ensemble on i.i.d. data (distances in mm).

    Defaults give mean foreground entropies of about 0.1-0.3 nats on i.i.d. cases of
    32 x 32 x 24 voxels (spacing 1 x 1 x 2 mm) and up to about 0.6 under shift.

    Attributes
    ----------
    temperature
        Logit temperature (mm of signed distance per nat); lower = sharper softmax.
    temperature_spread
        Log-normal spread of the members' temperatures around the case's.
    jitter
        Member boundary jitter everywhere (mm, amplitude of the smooth member field).
    disagreement
        Largest share (0-1) of the model's error a member gets right; the shares are spread
        uniformly, so this sets how much members disagree where the prediction is wrong.
    displacement
        ``(low, high)`` range of the i.i.d. boundary-displacement amplitude (mm), per case.
    saturation
        Distance (mm) beyond which the logits no longer grow (interior confidence cap).
    smoothness
        Correlation length (voxels) of the displacement and jitter fields.
    """

    temperature: float = 0.7
    temperature_spread: float = 0.15
    jitter: float = 0.35
    disagreement: float = 0.8
    displacement: tuple[float, float] = (0.3, 1.2)
    saturation: float = 4.0
    smoothness: float = 2.5


@dataclass(frozen=True)
class ShiftEffect:
    """How one shift type changes the model at severity 1 (scaled linearly by severity).

    Attributes
    ----------
    displacement
        Added boundary-displacement amplitude (mm).
    temperature_gain
        Relative temperature increase (0.5 -> 1.5 x the i.i.d. temperature).
    disagreement
        Replaces the model's ``disagreement`` under this shift (low: confident failures).
    logit_noise
        Standard deviation of voxel-level logit noise (nats), 70 % shared by the members.
    erosion
        Shrinkage (mm) of the lesion: thin structures fade under blur.
    coarsen
        Grid factor of the perceived anatomy (resolution shift), at severity 1.
    drop_lesion
        Probability that the lesion is not seen at all (``missing``), at severity 1.
    extra_structure
        Probability that a spurious lesion is seen (``extra``), at severity 1.
    """

    displacement: float = 0.0
    temperature_gain: float = 0.0
    disagreement: float | None = None
    logit_noise: float = 0.0
    erosion: float = 0.0
    coarsen: int = 1
    drop_lesion: float = 0.0
    extra_structure: float = 0.0


#: Built-in shift types (names of the ``shifts`` argument) and their effects.
SHIFT_EFFECTS: dict[str, ShiftEffect] = {
    "intensity": ShiftEffect(displacement=5.0, temperature_gain=1.2, disagreement=0.9),
    "noise": ShiftEffect(displacement=1.5, temperature_gain=0.5, logit_noise=2.5),
    "blur": ShiftEffect(displacement=2.0, temperature_gain=1.5, erosion=4.0, disagreement=0.6),
    "resolution": ShiftEffect(displacement=0.5, temperature_gain=0.3, coarsen=4, disagreement=0.3),
    "missing": ShiftEffect(displacement=0.3, drop_lesion=0.8, disagreement=0.25),
    "extra": ShiftEffect(displacement=0.3, extra_structure=0.8, disagreement=0.25),
}


@dataclass(frozen=True)
class SyntheticCase:
    """One simulated case: reference, member softmaxes ``[M, C, *shape]`` and its shift."""

    truth: np.ndarray
    probabilities: np.ndarray
    domain: str
    severity: float

    @property
    def prediction(self) -> np.ndarray:
        """Argmax of the members' mean softmax (the segmentation being judged)."""
        return np.argmax(self.probabilities.mean(axis=0), axis=0).astype(np.uint8)

    def statistics(self) -> dict[str, float]:
        """Mean foreground Dice, foreground entropy and mutual information of the case.

        ``dice``: mean over the two foreground classes of the prediction's Dice (1 when a
        class is empty in both); ``fg_entropy``: mean entropy (nats) of the members' mean
        softmax over the predicted foreground; ``mi_wrong`` / ``mi_right``: mean mutual
        information over wrongly predicted voxels / over correctly predicted voxels within 2
        voxels of a predicted boundary (the fair comparison: boundaries are uncertain anyway;
        NaN when there are none).
        """
        from scipy.ndimage import binary_dilation, binary_erosion

        p = self.probabilities.astype(np.float64)
        pbar = p.mean(axis=0)
        pred = np.argmax(pbar, axis=0)
        h = _entropy(pbar)
        mi = h - np.mean([_entropy(q) for q in p], axis=0)
        dices = []
        for c in (1, 2):
            a, b = pred == c, self.truth == c
            total = int(a.sum() + b.sum())
            dices.append(1.0 if total == 0 else 2.0 * float((a & b).sum()) / total)
        fg, wrong = pred > 0, pred != self.truth
        band = np.zeros_like(fg)
        for c in (1, 2):
            m = pred == c
            band |= binary_dilation(m, iterations=2) & ~binary_erosion(m, iterations=2)
        right = band & ~wrong
        return {
            "dice": float(np.mean(dices)),
            "fg_entropy": float(h[fg].mean()) if fg.any() else float("nan"),
            "mi_wrong": float(mi[wrong].mean()) if wrong.any() else float("nan"),
            "mi_right": float(mi[right].mean()) if right.any() else float("nan"),
        }


def _entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=0)


def _grids(shape: Sequence[int], spacing: np.ndarray) -> list[np.ndarray]:
    return list(
        np.meshgrid(
            *[np.arange(n, dtype=np.float64) * s for n, s in zip(shape, spacing)], indexing="ij"
        )
    )


def _smooth(rng: np.random.Generator, shape: Sequence[int], sigma: float) -> np.ndarray:
    """A smooth random field with unit standard deviation."""
    from scipy.ndimage import gaussian_filter

    n = gaussian_filter(rng.normal(size=tuple(shape)), sigma, mode="wrap")
    return n / (n.std() + 1e-12)


def _blob(grids, center, radii, wobble: np.ndarray | float) -> np.ndarray:
    f = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, center, radii))
    return f - 1.0 + wobble < 0


def _signed_distance(mask: np.ndarray, spacing: np.ndarray, cap: float) -> np.ndarray:
    """Signed distance (mm) to the mask boundary, positive inside, clipped to +-cap."""
    from scipy.ndimage import distance_transform_edt

    if not mask.any():
        return np.full(mask.shape, -cap)
    if mask.all():
        return np.full(mask.shape, cap)
    d = distance_transform_edt(mask, sampling=spacing) - distance_transform_edt(
        ~mask, sampling=spacing
    )
    # Voxel centres: the boundary lies half a voxel from the outermost inside voxel.
    d = np.where(mask, d - 0.5 * spacing.min(), d + 0.5 * spacing.min())
    return np.clip(d, -cap, cap)


def _anatomy(rng, shape, spacing) -> tuple[np.ndarray, Any]:
    s = np.asarray(shape, dtype=np.float64) * spacing
    grids = _grids(shape, spacing)
    center = s / 2 + rng.uniform(-0.08, 0.08, 3) * s
    radii = s * rng.uniform(0.24, 0.34, 3)
    organ = _blob(grids, center, radii, 0.25 * _smooth(rng, shape, 4.0))
    l_center = center + rng.uniform(-0.35, 0.35, 3) * radii
    l_radii = radii * rng.uniform(0.28, 0.45)
    lesion = _blob(grids, l_center, l_radii, 0.2 * _smooth(rng, shape, 3.0)) & organ
    truth = organ.astype(np.uint8)
    truth[lesion] = 2
    return truth, (grids, center, radii, l_radii)


def _perceived(rng, truth, geometry, effect: ShiftEffect, severity: float) -> np.ndarray:
    """The anatomy the model sees (structural shifts), before boundary displacement."""
    seen = truth.copy()
    if rng.random() < effect.drop_lesion * severity:
        seen[seen == 2] = 1
    if rng.random() < effect.extra_structure * severity:
        grids, center, radii, l_radii = geometry
        # A spurious lesion-like blob at the opposite side of the organ (or just outside it).
        spot = center - rng.uniform(0.5, 0.9, 3) * radii * np.sign(rng.normal(size=3))
        seen[_blob(grids, spot, l_radii * rng.uniform(0.8, 1.2), 0.0)] = 2
    factor = round(1 + (effect.coarsen - 1) * severity)
    if factor > 1:
        # Nearest-neighbour down- and upsampling of the in-plane axes (thick slices stay).
        coarse = seen[:, ::factor, ::factor]
        up = np.repeat(np.repeat(coarse, factor, axis=1), factor, axis=2)
        off = [(u - n) // 2 for u, n in zip(up.shape[1:], seen.shape[1:])]
        seen = up[:, off[0] : off[0] + seen.shape[1], off[1] : off[1] + seen.shape[2]]
        seen = np.ascontiguousarray(seen)
    return seen


def simulate_failure_case(
    shape: tuple[int, int, int] = (32, 32, 24),
    *,
    spacing: tuple[float, float, float] = (1.0, 1.0, 2.0),
    n_members: int = 5,
    shift: str | None = None,
    severity: float = 1.0,
    model: EnsembleModel | None = None,
    effects: Mapping[str, ShiftEffect] | None = None,
    seed: int | Sequence[int] = 0,
) -> SyntheticCase:
    """Simulate one case of an ensemble (see the module docstring for the model).

    Parameters
    ----------
    shape, spacing
        Volume shape and voxel spacing (mm, array-axis order).
    n_members
        Ensemble size M.
    shift
        None (i.i.d.) or a name of ``effects`` (default :data:`SHIFT_EFFECTS`).
    severity
        Shift severity in [0, 1] (0 behaves like i.i.d.).
    model
        The ensemble's parameters (default :class:`EnsembleModel()`).
    seed
        Seed (or seed sequence) of every random choice of the case.
    effects
        Shift name -> :class:`ShiftEffect` (default :data:`SHIFT_EFFECTS`).

    Returns
    -------
    SyntheticCase

    Examples
    --------
    >>> c = simulate_failure_case((16, 16, 12), n_members=3, shift="missing", seed=2)
    >>> c.probabilities.shape, c.domain
    ((3, 3, 16, 16, 12), 'shift_missing')
    """
    model = model or EnsembleModel()
    effects = SHIFT_EFFECTS if effects is None else effects
    if shift is not None and shift not in effects:
        raise InvalidArgumentError(f"shift must be one of {sorted(effects)} or None, got {shift!r}")
    if not 0.0 <= severity <= 1.0:
        raise InvalidArgumentError(f"severity must lie in [0, 1], got {severity}")
    if n_members < 1:
        raise InvalidArgumentError(f"n_members must be >= 1, got {n_members}")
    if len(shape) != 3 or min(shape) < 4:
        raise InvalidArgumentError(f"shape must be 3 sizes >= 4, got {shape}")
    sp = np.asarray(spacing, dtype=np.float64)
    if sp.shape != (3,) or not np.all(sp > 0):
        raise InvalidArgumentError(f"spacing must be 3 positive values, got {spacing}")
    effect = effects[shift] if shift is not None else ShiftEffect()
    sev = severity if shift is not None else 0.0
    rng = np.random.default_rng(seed)
    truth, geometry = _anatomy(rng, shape, sp)
    seen = _perceived(rng, truth, geometry, effect, sev)
    cap = model.saturation
    # Boundary displacement per class region (mm): where the model's boundaries are wrong.
    amp = rng.uniform(*model.displacement) + effect.displacement * sev
    disp = [amp * _smooth(rng, shape, model.smoothness) for _ in range(3)]
    margin = cap + 3 * amp
    true_sd = np.stack([_signed_distance(truth == k, sp, margin) for k in range(3)])
    seen_sd = np.stack([_signed_distance(seen == k, sp, margin) for k in range(3)])
    seen_sd += np.stack(disp)
    seen_sd[2] -= effect.erosion * sev
    # The model's error, as signed-distance evidence: perceived minus true.
    error = seen_sd - true_sd
    del seen_sd
    gain = effect.disagreement if effect.disagreement is not None else model.disagreement
    t_case = model.temperature * (1.0 + effect.temperature_gain * sev)
    shared_noise = rng.normal(size=(3, *shape)) if effect.logit_noise else None
    members = np.empty((n_members, 3, *shape), dtype=np.float32)
    for m in range(n_members):
        mrng = np.random.default_rng([*np.atleast_1d(seed).tolist(), 1000 + m])
        t_m = t_case * float(np.exp(model.temperature_spread * mrng.normal()))
        # Member m corrects a smooth random fraction (uniform in [0, gain]) of the shared
        # error: member boundaries fan out between the true and the perceived boundary.
        fraction = gain * ndtr(np.stack([_smooth(mrng, shape, model.smoothness) for _ in range(3)]))
        jitter = np.stack([_smooth(mrng, shape, model.smoothness) for _ in range(3)])
        member_sd = true_sd + error * (1.0 - fraction) + model.jitter * jitter
        logits = np.clip(member_sd, -cap, cap) / t_m
        if shared_noise is not None:
            own = mrng.normal(size=logits.shape)
            logits += effect.logit_noise * sev * (0.84 * shared_noise + 0.55 * own)
        logits -= logits.max(axis=0, keepdims=True)
        p = np.exp(logits)
        members[m] = p / p.sum(axis=0, keepdims=True)
    domain = "iid" if shift is None else f"shift_{shift}"
    return SyntheticCase(truth, members, domain, float(sev))
