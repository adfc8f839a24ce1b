"""Built-in backend: a compact 3D U-Net in PyTorch trained on partial labels.

(Over 400 lines: model planning, the training loop and sliding-window prediction with
mirroring share one tensor layout and one settings object; they are kept together so the
backend reads top to bottom like nnU-Net's.)

- Architecture planned from the crop size and spacing (nnU-Net's habit): an axis is pooled
  only while its spacing is at most twice the finest one and its size stays even and >= 8;
  axes much coarser than the finest get in-plane kernels (size 1) until pooling catches up.
  Instance norm, leaky ReLU, strided-conv downsampling, transposed-conv upsampling.
- Loss: cross-entropy + soft Dice (batch Dice over the foreground classes), both computed on
  annotated voxels only: voxels carrying the ignore label get exactly zero gradient.
- Crops centred on annotated voxels (a third of them on annotated foreground: a random class
  present in the annotations, then one of its voxels, as nnU-Net samples), random flips
  and intensity jitter; AdamW with a cosine schedule.
- Gaussian-weighted sliding-window inference; CPU or CUDA (mixed precision on CUDA).
- Members: different seeds on all labelled images (``members="seeds"``), or folds over the
  labelled images (``members="folds"``: member m leaves out every M-th image).

Examples
--------
>>> import torch
>>> from medtrust.active.trainers.unet import masked_dice_ce_loss
>>> logits = torch.zeros(1, 3, 2, 2, 2, requires_grad=True)
>>> target = torch.tensor([[[[0, 1], [3, 3]], [[2, 3], [3, 3]]]])  # 3 = ignore
>>> masked_dice_ce_loss(logits, target, ignore_label=3).backward()
>>> bool((logits.grad[0, :, target[0] == 3] == 0).all())
True
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medtrust._settings import reject_unknown
from medtrust.active.trainers.base import (
    CaseData,
    InferenceMode,
    Predictor,
    Trainer,
    TrainingData,
    atomic_dir,
    class_aware_folds,
    class_presence,
    inference_options,
    member_dir,
)
from medtrust.active.trainers.inference import encoder_feature_map, sliding_window_slabs
from medtrust.exceptions import ConfigError, DeviceError

__all__ = ["UNetSettings", "UNetTrainer", "build_unet", "masked_dice_ce_loss", "plan_unet"]


@dataclass(frozen=True)
class UNetSettings:
    """Settings of the built-in trainer (all optional in the experiment config).

    Attributes
    ----------
    patch_size
        Training crop = inference tile ``[z, y, x]`` in SimpleITK order (as the experiment's
        ``patch_size``); default: the smallest image, capped at ``[64, 128, 128]``.
    iterations
        Optimiser steps per member.
    batch_size
        Crops per step.
    base_channels, max_channels, max_levels
        Width of the first level, cap of the width, maximum number of resolution levels.
    lr, weight_decay
        AdamW settings (cosine decay to 0 over ``iterations``).
    fg_oversample
        Fraction of crops centred on annotated foreground (when the image has some).
    members
        ``"folds"`` (default, as nnActive's M fold models: member m trains on the annotated
        images outside fold m of a class-aware M-fold split) or ``"seeds"`` (every member on
        every annotated image, different seeds).
    device
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"`` / ``"cuda:N"``.
    amp
        Mixed precision on CUDA.
    eval_step, eval_mirroring
        Sliding window on the held-out set: step as a fraction of the tile and test-time
        mirroring over the 8 axis flips, logits averaged (nnActive / nnU-Net: 0.5, True).
    query_step, query_mirroring
        Sliding window on the pool for queries (nnActive: 0.75, False).
    step, mirroring
        When set, override both modes (one prediction protocol for both, as medtrust
        did before following nnActive).
    num_threads
        torch CPU threads (default: torch's choice).
    """

    patch_size: tuple[int, int, int] | None = None
    iterations: int = 150
    batch_size: int = 2
    base_channels: int = 16
    max_channels: int = 128
    max_levels: int = 4
    lr: float = 3e-3
    weight_decay: float = 3e-5
    fg_oversample: float = 0.33
    members: str = "folds"
    device: str = "auto"
    amp: bool = True
    eval_step: float = 0.5
    eval_mirroring: bool = True
    query_step: float = 0.75
    query_mirroring: bool = False
    step: float | None = None
    mirroring: bool | None = None
    num_threads: int | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UNetSettings:
        """Validated settings from a config mapping (unknown keys are an error)."""
        reject_unknown(d, cls, "setting(s) of trainer backend 'unet':")
        kw = dict(d)
        if kw.get("patch_size") is not None:
            ps = kw["patch_size"]
            if (
                not isinstance(ps, (list, tuple))
                or len(ps) != 3
                or not all(isinstance(v, int) and v >= 4 for v in ps)
            ):
                raise ConfigError(f"trainer.patch_size must be 3 integers >= 4, got {ps!r}")
            kw["patch_size"] = tuple(ps)
        s = cls(**kw)
        checks = [
            (s.iterations >= 1, "trainer.iterations must be >= 1"),
            (s.batch_size >= 1, "trainer.batch_size must be >= 1"),
            (s.base_channels >= 1, "trainer.base_channels must be >= 1"),
            (s.max_channels >= s.base_channels, "trainer.max_channels must be >= base_channels"),
            (s.max_levels >= 1, "trainer.max_levels must be >= 1"),
            (s.lr > 0, "trainer.lr must be > 0"),
            (s.weight_decay >= 0, "trainer.weight_decay must be >= 0"),
            (0 <= s.fg_oversample <= 1, "trainer.fg_oversample must lie in [0, 1]"),
            (s.members in ("seeds", "folds"), "trainer.members must be 'seeds' or 'folds'"),
            (s.step is None or 0 < s.step <= 1, "trainer.step must lie in (0, 1]"),
            (0 < s.eval_step <= 1, "trainer.eval_step must lie in (0, 1]"),
            (0 < s.query_step <= 1, "trainer.query_step must lie in (0, 1]"),
            (s.num_threads is None or s.num_threads >= 1, "trainer.num_threads must be >= 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        return s


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class UNetPlan:
    """Network topology: per level the conv kernel and (from level 1) the pooling stride."""

    patch_size: tuple[int, int, int]
    kernels: tuple[tuple[int, int, int], ...]
    strides: tuple[tuple[int, int, int], ...]  # strides[l] pools from level l-1 to l; [0] = 1s
    channels: tuple[int, ...]
    in_channels: int
    n_classes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UNetPlan:
        """Inverse of :meth:`to_dict`."""
        return cls(
            patch_size=tuple(d["patch_size"]),  # type: ignore[arg-type]
            kernels=tuple(tuple(k) for k in d["kernels"]),  # type: ignore[misc]
            strides=tuple(tuple(s) for s in d["strides"]),  # type: ignore[misc]
            channels=tuple(d["channels"]),
            in_channels=int(d["in_channels"]),
            n_classes=int(d["n_classes"]),
        )


def plan_unet(
    patch_size: Sequence[int],
    spacing: Sequence[float],
    *,
    in_channels: int,
    n_classes: int,
    base_channels: int = 16,
    max_channels: int = 128,
    max_levels: int = 4,
) -> UNetPlan:
    """Plan the U-Net topology for a crop size and spacing (see the module docstring).

    Examples
    --------
    >>> p = plan_unet((16, 32, 32), (3.0, 1.0, 1.0), in_channels=1, n_classes=4)
    >>> p.strides
    ((1, 1, 1), (1, 2, 2), (2, 2, 2), (2, 2, 2))
    """
    size = [int(s) for s in patch_size]
    sp = [float(s) for s in spacing]
    kernels: list[tuple[int, int, int]] = []
    strides: list[tuple[int, int, int]] = [(1, 1, 1)]
    channels = [base_channels]
    while True:
        finest = min(sp)
        kernels.append(tuple(3 if s <= 2 * finest else 1 for s in sp))  # type: ignore[arg-type]
        if len(kernels) >= max_levels:
            break
        pool = tuple(
            2 if (s <= 2 * finest and n % 2 == 0 and n >= 8) else 1 for s, n in zip(sp, size)
        )
        if pool == (1, 1, 1):
            break
        strides.append(pool)  # type: ignore[arg-type]
        size = [n // p for n, p in zip(size, pool)]
        sp = [s * p for s, p in zip(sp, pool)]
        channels.append(min(channels[-1] * 2, max_channels))
    return UNetPlan(
        patch_size=tuple(int(s) for s in patch_size),  # type: ignore[arg-type]
        kernels=tuple(kernels),
        strides=tuple(strides),
        channels=tuple(channels),
        in_channels=in_channels,
        n_classes=n_classes,
    )


def build_unet(plan: UNetPlan) -> Any:
    """The ``torch.nn.Module`` of a plan (logits ``[B, C, *patch]``)."""
    import torch
    from torch import nn

    def block(cin: int, cout: int, k: tuple[int, int, int]) -> nn.Sequential:
        pad = tuple(x // 2 for x in k)
        return nn.Sequential(
            nn.Conv3d(cin, cout, k, padding=pad),
            nn.InstanceNorm3d(cout, affine=True),
            nn.LeakyReLU(0.01, inplace=True),
            nn.Conv3d(cout, cout, k, padding=pad),
            nn.InstanceNorm3d(cout, affine=True),
            nn.LeakyReLU(0.01, inplace=True),
        )

    class UNet3D(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            ch, ks, st = plan.channels, plan.kernels, plan.strides
            n = len(ch)
            self.enc = nn.ModuleList([block(plan.in_channels, ch[0], ks[0])])
            self.down = nn.ModuleList()
            for lvl in range(1, n):
                self.down.append(nn.Conv3d(ch[lvl - 1], ch[lvl - 1], st[lvl], stride=st[lvl]))
                self.enc.append(block(ch[lvl - 1], ch[lvl], ks[lvl]))
            self.up = nn.ModuleList()
            self.dec = nn.ModuleList()
            for lvl in range(n - 1, 0, -1):
                self.up.append(nn.ConvTranspose3d(ch[lvl], ch[lvl - 1], st[lvl], stride=st[lvl]))
                self.dec.append(block(2 * ch[lvl - 1], ch[lvl - 1], ks[lvl - 1]))
            self.head = nn.Conv3d(ch[0], plan.n_classes, 1)

        def encode(self, x: torch.Tensor) -> torch.Tensor:
            """The bottleneck features (deepest encoder level)."""
            x = self.enc[0](x)
            for down, enc in zip(self.down, self.enc[1:]):
                x = enc(down(x))
            return x

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skips = []
            x = self.enc[0](x)
            for down, enc in zip(self.down, self.enc[1:]):
                skips.append(x)
                x = enc(down(x))
            for up, dec in zip(self.up, self.dec):
                x = dec(torch.cat([up(x), skips.pop()], dim=1))
            return self.head(x)

    return UNet3D()


# ----------------------------------------------------------------------------- loss


def masked_dice_ce_loss(
    logits: Any, target: Any, *, ignore_label: int, smooth: float = 1e-5
) -> Any:
    """Cross-entropy + soft batch Dice (foreground classes) on annotated voxels only.

    Parameters
    ----------
    logits
        ``[B, C, *spatial]`` tensor.
    target
        ``[B, *spatial]`` integer tensor; voxels equal to ``ignore_label`` are unlabelled and
        contribute nothing (their logits get zero gradient).
    ignore_label
        The ignore value (``C`` for nnU-Net-style datasets).
    smooth
        Dice smoothing.

    Returns
    -------
    torch.Tensor
        Scalar loss ``CE + (1 - mean foreground Dice)``; 0 (with a graph) when nothing is
        annotated.
    """
    import torch
    import torch.nn.functional as F

    target = target.long()
    mask = target != ignore_label
    if not bool(mask.any()):
        return (logits * 0).sum()
    ce = F.cross_entropy(logits.float(), target, ignore_index=ignore_label)
    n_classes = logits.shape[1]
    probs = torch.softmax(logits.float(), dim=1)
    m = mask.unsqueeze(1).float()
    onehot = F.one_hot(torch.where(mask, target, 0), n_classes).movedim(-1, 1).float() * m
    probs = probs * m
    dims = (0, *range(2, logits.ndim))
    tp = (probs * onehot).sum(dims)[1:]
    denom = (probs.sum(dims) + onehot.sum(dims))[1:]
    dice = (2 * tp + smooth) / (denom + smooth).clamp_min(1e-8)
    return ce + (1 - dice.mean())


# ----------------------------------------------------------------------------- training


def _resolve_device(device: str) -> Any:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"trainer.device is {device!r} but CUDA is not available")
    try:
        return torch.device(device)
    except RuntimeError as e:
        raise ConfigError(f"trainer.device {device!r} is not a torch device: {e}") from e


def _crop(arr: np.ndarray, start: Sequence[int], size: Sequence[int], fill: float) -> np.ndarray:
    """``arr[..., start:start+size]`` over the last three axes, padded with ``fill`` outside."""
    lead = arr.shape[:-3]
    out = np.full((*lead, *size), fill, dtype=arr.dtype)
    src, dst = [], []
    for s0, n, dim in zip(start, size, arr.shape[-3:]):
        a, b = max(s0, 0), min(s0 + n, dim)
        src.append(slice(a, max(a, b)))
        dst.append(slice(a - s0, a - s0 + max(0, b - a)))
    out[(..., *dst)] = arr[(..., *src)]  # type: ignore[index, arg-type]
    return out


@dataclass
class _CaseSampler:
    case: CaseData
    annotated: np.ndarray  # flat indices
    foreground: list[np.ndarray]  # flat indices per annotated foreground class present
    image: np.ndarray = field(repr=False)
    label: np.ndarray = field(repr=False)


def _samplers(
    cases: Sequence[CaseData], ignore: int, rng: np.random.Generator, cap: int = 200_000
) -> list[_CaseSampler]:
    out = []
    for c in cases:
        lab = np.asarray(c.labels())
        annotated = np.flatnonzero(lab != ignore)
        if annotated.size == 0:
            continue
        values = lab.reshape(-1)[annotated]
        fg = []
        for k in np.unique(values[values > 0]):
            idx = annotated[values == k]
            fg.append(np.sort(rng.choice(idx, cap, replace=False)) if idx.size > cap else idx)
        if annotated.size > cap:
            annotated = np.sort(rng.choice(annotated, cap, replace=False))
        out.append(_CaseSampler(c, annotated, fg, c.image(), lab))
    return out


class UNetTrainer(Trainer):
    """The built-in backend (see the module docstring)."""

    backend = "unet"

    settings_class = UNetSettings
    settings: UNetSettings

    def patch_size_for(self, shapes: Sequence[Sequence[int]]) -> tuple[int, int, int]:
        """The crop/tile size in array order.

        Configured, or the smallest image capped at 64 x 128 x 128 (both in SimpleITK order, z
        first, like the experiment's patch size).
        """
        from medtrust.io.rounds import to_array_order

        if self.settings.patch_size is not None:
            return to_array_order(self.settings.patch_size)
        smallest = np.min(np.asarray(shapes), axis=0)
        cap = to_array_order((64, 128, 128))
        return tuple(int(min(s, c)) for s, c in zip(smallest, cap))  # type: ignore[return-value]

    def plan(self, data: TrainingData) -> UNetPlan:
        """The U-Net plan of a round's data."""
        s = self.settings
        return plan_unet(
            self.patch_size_for([c.shape for c in data.cases]),
            data.spacing,
            in_channels=data.n_channels,
            n_classes=data.n_classes,
            base_channels=s.base_channels,
            max_channels=s.max_channels,
            max_levels=s.max_levels,
        )

    def _member_cases(self, data: TrainingData, member: int, n_members: int) -> list[CaseData]:
        cases = list(data.cases)
        if self.settings.members == "folds" and n_members > 1 and len(cases) >= 2:
            fold = class_aware_folds(class_presence(data), n_members)
            kept = [c for c in cases if fold[c.case] != member % n_members]
            return kept or cases
        return cases

    def train_member(
        self, data: TrainingData, member: int, n_members: int, workdir: Path, seed: int
    ) -> dict[str, Any]:
        """Train one member on ``data`` and save it (see :class:`Trainer`)."""
        import torch

        s = self.settings
        if s.num_threads:
            torch.set_num_threads(s.num_threads)
        device = _resolve_device(s.device)
        use_amp = s.amp and device.type == "cuda"
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        plan = self.plan(data)
        model = build_unet(plan).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda it: 0.5 * (1 + math.cos(math.pi * min(it, s.iterations) / s.iterations))
        )
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        samplers = _samplers(self._member_cases(data, member, n_members), data.ignore_label, rng)
        if not samplers:
            raise ConfigError("no annotated voxels to train on in this round")
        weights = np.array([sm.annotated.size for sm in samplers], float) ** 0.5
        weights /= weights.sum()
        ps = plan.patch_size
        t0 = time.perf_counter()
        losses: list[float] = []
        model.train()
        for _ in range(s.iterations):
            imgs, labs = [], []
            for _b in range(s.batch_size):
                sm = samplers[int(rng.choice(len(samplers), p=weights))]
                if sm.foreground and rng.random() < s.fg_oversample:
                    # nnU-Net's oversampling: a random annotated class, then one of its voxels
                    pool = sm.foreground[int(rng.integers(len(sm.foreground)))]
                else:
                    pool = sm.annotated
                centre = np.unravel_index(int(pool[rng.integers(pool.size)]), sm.case.shape)
                jitter = rng.integers(-(np.array(ps) // 4), np.array(ps) // 4 + 1)
                start = [int(c) - p // 2 + int(j) for c, p, j in zip(centre, ps, jitter)]
                start = [
                    min(max(st, 0), max(dim - p, 0)) if dim >= p else st
                    for st, dim, p in zip(start, sm.case.shape, ps)
                ]
                img = _crop(sm.image, start, ps, 0.0)
                lab = _crop(sm.label, start, ps, data.ignore_label)
                for ax in range(3):
                    if rng.random() < 0.5:
                        img, lab = np.flip(img, ax + 1), np.flip(lab, ax)
                img = img * rng.uniform(0.9, 1.1) + rng.normal(0, 0.1)
                imgs.append(np.ascontiguousarray(img, np.float32))
                labs.append(np.ascontiguousarray(lab, np.int64))
            x = torch.from_numpy(np.stack(imgs)).to(device)
            y = torch.from_numpy(np.stack(labs)).to(device)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                logits = model(x)
            loss = masked_dice_ce_loss(logits, y, ignore_label=data.ignore_label)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            losses.append(float(loss.detach()))
        info = {
            "member": member,
            "seed": seed,
            "n_cases": len(samplers),
            "iterations": s.iterations,
            "loss_first": losses[0],
            "loss_last": float(np.mean(losses[-max(1, len(losses) // 10) :])),
            "train_s": time.perf_counter() - t0,
            "device": str(device),
        }
        with atomic_dir(member_dir(workdir, member)) as tmp:
            torch.save(
                {k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp / "model.pt"
            )
            (tmp / "plan.json").write_text(json.dumps(plan.to_dict()))
            (tmp / "info.json").write_text(json.dumps(info))
        return info

    def load_member(self, workdir: Path, member: int) -> UNetPredictor:
        """Load a trained member."""
        import torch

        d = member_dir(workdir, member)
        plan = UNetPlan.from_dict(json.loads((d / "plan.json").read_text()))
        model = build_unet(plan)
        model.load_state_dict(torch.load(d / "model.pt", map_location="cpu", weights_only=True))
        return UNetPredictor(model, plan, self.settings)


class UNetPredictor(Predictor):
    """A trained U-Net member with Gaussian-weighted sliding-window inference."""

    def __init__(self, model: Any, plan: UNetPlan, settings: UNetSettings) -> None:
        if settings.num_threads:
            import torch

            torch.set_num_threads(settings.num_threads)
        self.device = _resolve_device(settings.device)
        self.model = model.to(self.device).eval()
        self.plan = plan
        self.settings = settings
        self.n_classes = plan.n_classes

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Logits of a batch of tiles ``[B, C_in, *tile]``."""
        import torch

        use_amp = self.settings.amp and self.device.type == "cuda"
        with (
            torch.inference_mode(),
            torch.autocast(self.device.type, dtype=torch.float16, enabled=use_amp),
        ):
            out = self.model(torch.from_numpy(np.ascontiguousarray(batch)).to(self.device))
        return out.float().cpu().numpy()

    def mirrored_logits(self, batch: np.ndarray) -> np.ndarray:
        """Logits averaged over the 8 flips of the three spatial axes (nnU-Net's TTA)."""
        from itertools import combinations

        total = self.logits(batch)
        n = 1
        for r in (1, 2, 3):
            for axes in combinations((2, 3, 4), r):
                total += np.flip(self.logits(np.flip(batch, axes)), axes)
                n += 1
        return total / n

    def predict_array_slabs(
        self, image: np.ndarray, mode: InferenceMode = "eval"
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Softmax slabs of a normalised image ``[C_in, Z, Y, X]`` (step / mirroring by mode)."""
        step, mirroring = inference_options(self.settings, mode)
        return sliding_window_slabs(
            self.mirrored_logits if mirroring else self.logits,
            np.asarray(image, np.float32),
            self.plan.patch_size,
            n_classes=self.n_classes,
            step=step,
        )

    def predict_slabs(
        self, case: CaseData, mode: InferenceMode = "eval"
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Softmax slabs of a case (see :class:`Predictor`)."""
        return self.predict_array_slabs(case.image(), mode)

    def encoder_stride(self) -> tuple[int, int, int]:
        """Total downsampling of the encoder per axis (product of the pooling strides)."""
        out = [1, 1, 1]
        for st in self.plan.strides:
            out = [a * b for a, b in zip(out, st)]
        return (out[0], out[1], out[2])

    def features(self, case: CaseData) -> np.ndarray:
        """Bottleneck features of the case's image, ``[F, ceil(Z / s_z), ...]`` (float32).

        Non-overlapping tiles of the plan's patch size go through the encoder (no mirroring);
        see :func:`~medtrust.active.trainers.inference.encoder_feature_map`.

        Parameters
        ----------
        case
            The case to encode.

        Returns
        -------
        numpy.ndarray
            ``[F, z, y, x]`` with ``F`` the deepest level's channels; cell ``i`` lies over
            voxels ``[i * s, (i + 1) * s)`` of its axis (``s`` = :meth:`encoder_stride`).

        Examples
        --------
        >>> import numpy as np
        >>> from medtrust.active.trainers.unet import UNetSettings, build_unet, plan_unet
        >>> plan = plan_unet((8, 8, 8), (1.0, 1.0, 1.0), in_channels=1, n_classes=2,
        ...                  base_channels=4, max_levels=2)
        >>> p = UNetPredictor(build_unet(plan), plan, UNetSettings(device="cpu"))
        >>> p.features_of_array(np.zeros((1, 12, 8, 8), np.float32)).shape
        (8, 6, 4, 4)
        """
        return self.features_of_array(case.image())

    def features_of_array(self, image: np.ndarray) -> np.ndarray:
        """:meth:`features` of a normalised image ``[C_in, Z, Y, X]``."""
        import torch

        def encode(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                out = self.model.encode(torch.from_numpy(batch).to(self.device))
            return out.float().cpu().numpy()

        return encoder_feature_map(
            encode, np.asarray(image, np.float32), self.plan.patch_size, self.encoder_stride()
        )

    def close(self) -> None:
        """Drop the model."""
        self.model = None
