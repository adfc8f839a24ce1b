"""Validated AL experiment configuration (YAML or TOML).

(Over 400 lines: the schema of one experiment file. Every key is validated here, against
the whole key set, so that a misspelt key gets a did-you-mean hint and a config is refused
before any work starts; splitting the sections would split that one check.)

Example (YAML)::

    name: demo
    dataset:
      synthetic: {n_cases: 12, shape: [16, 48, 48], spacing: [3.0, 1.0, 1.0], seed: 0}
      # or: path: /data/nnUNet_raw/Dataset004_Hippocampus
    held_out_fraction: 0.25
    strategies: [random_fg33, clasp_pe]
    starting_budget: random_fg33_all_classes
    patch_size: [4, 16, 16]
    query_size: 12
    rounds: 5
    pooling_stride: [1, 4, 4]
    patches_per_image: 20
    seeds: [0, 1]
    ensemble_size: 2
    trainer: {backend: unet, iterations: 100}
    settings:               # optional: a grid of overrides, one setting each
      low: {query_size: 12}
      high: {query_size: 24}
    resources:              # optional: Ray resources of a run task and a member task
      run: {num_cpus: 2}    # (default: a GPU each with a CUDA trainer, else num_threads CPUs)
      member: {num_cpus: 4}

Everything is checked before any training: unknown keys (with a suggestion), types and
ranges, strategy names, the trainer backend and its settings, the dataset layout, the patch size
against the image shapes and the total query budget against what the pool can hold.

Examples
--------
>>> from medtrust.active.loop.config import ExperimentConfig
>>> cfg = ExperimentConfig.from_dict({"dataset": {"synthetic": {"n_cases": 8}},
...     "strategies": ["random"], "patch_size": [4, 8, 8], "query_size": 4})
>>> cfg.rounds, cfg.held_out_fraction, cfg.starting_budget
(5, 0.25, 'random_fg33_all_classes')
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from medtrust._parallel import check_resources
from medtrust.exceptions import ConfigError, DatasetError, MedtrustError
from medtrust.io.config import read_config

__all__ = [
    "TRAINER_BACKENDS",
    "ExperimentConfig",
    "RunSpec",
    "load_config",
    "make_trainer",
]

#: Backends of :func:`make_trainer`.
TRAINER_BACKENDS: tuple[str, ...] = ("unet", "nnunet")

_SYNTHETIC_KEYS = {"n_cases", "shape", "spacing", "seed", "hard_fraction", "vessel_fraction"}


def _suggest(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _triple(value: Any, name: str, *, positive: bool = True) -> tuple[int, int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] * 3
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise ConfigError(f"{name} must be an integer or 3 integers [z, y, x], got {value!r}")
    if positive and min(value) < 1:
        raise ConfigError(f"{name} must be >= 1 on every axis, got {list(value)}")
    return (int(value[0]), int(value[1]), int(value[2]))


def _int(d: Mapping[str, Any], key: str, default: Any, lo: int | None = None) -> Any:
    v = d.get(key, default)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool):
        raise ConfigError(f"{key} must be an integer, got {v!r}")
    if lo is not None and v < lo:
        raise ConfigError(f"{key} must be >= {lo}, got {v}")
    return v


@dataclass(frozen=True)
class ExperimentConfig:
    """One AL experiment (all fields validated by :meth:`from_dict`).

    ``settings`` maps a setting name to overrides of these fields; :meth:`expand` yields one
    config per setting. ``base_dir`` resolves relative dataset paths.

    ``patch_size`` and ``pooling_stride`` are in SimpleITK array order, the convention of
    nnActive and of the paper's settings (ACDC ``[4, 40, 40]``: 4 slices through-plane, 40 x 40
    in-plane); :attr:`array_patch_size` / :attr:`array_stride` give them in the array order of
    the images as medtrust loads them (nibabel: the axes reversed, see
    :mod:`medtrust.io.rounds`).

    ``target_spacing`` (same order as ``patch_size``, i.e. nnU-Net's plans order; None = the
    raw grid) resamples images and ground truth to a working grid before patch selection and
    training, as nnActive works on nnU-Net's resampled images; round files stay on the raw
    grid (:mod:`medtrust.active.spacing` gives the rounding rule). With the ``nnunet``
    backend and no ``target_spacing``, the working grid is at the spacing nnU-Net's plan gives
    the whole dataset (its ``trainer.configuration``, default ``3d_fullres``), where nnActive
    selects; nnU-Net then trains and predicts on that grid without resampling again.
    """

    dataset: dict[str, Any]
    strategies: tuple[str, ...]
    patch_size: tuple[int, int, int]
    query_size: int
    name: str = "al"
    held_out_fraction: float = 0.25
    split_seed: int = 0
    level_separator: str | None = None
    starting_budget: str = "random_fg33_all_classes"
    starting_budget_size: int | None = None
    rounds: int = 5
    pooling_stride: tuple[int, int, int] = (1, 1, 1)
    target_spacing: tuple[float, float, float] | None = None
    patches_per_image: int = 20
    seeds: tuple[int, ...] = (0,)
    ensemble_size: int = 5
    trainer: dict[str, Any] = field(default_factory=lambda: {"backend": "unet"})
    strategy_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    full_data: bool = False
    full_data_trainer: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    setting: str = "default"
    base_dir: str = "."

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, base_dir: str | Path = ".") -> ExperimentConfig:
        """Parse and check a config mapping (schema only; see :meth:`validate`)."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"the config must be a mapping, got {type(raw).__name__}")
        d = dict(raw)
        if "strategy" in d:
            if "strategies" in d:
                raise ConfigError("give either 'strategy' or 'strategies', not both")
            d["strategies"] = [d.pop("strategy")]
        if "seed" in d:
            if "seeds" in d:
                raise ConfigError("give either 'seed' or 'seeds', not both")
            d["seeds"] = [d.pop("seed")]
        known = [f for f in cls.__dataclass_fields__ if f not in ("setting", "base_dir")]
        for key in d:
            if key not in known:
                raise ConfigError(f"unknown config key {key!r}{_suggest(key, known)}")
        for key in ("dataset", "strategies", "patch_size", "query_size"):
            if key not in d:
                raise ConfigError(f"the config lacks the required key {key!r}")
        ds = d["dataset"]
        if isinstance(ds, str):
            ds = {"path": ds}
        if not isinstance(ds, Mapping) or len(set(ds) & {"path", "synthetic"}) != 1:
            raise ConfigError(
                "dataset must be {path: FOLDER} (an nnU-Net v2 raw dataset) or "
                "{synthetic: {...}} (the embedded generator)"
            )
        extra = sorted(set(ds) - {"path", "synthetic"})
        if extra:
            raise ConfigError(f"unknown dataset key(s) {extra}")
        if "synthetic" in ds:
            syn = ds["synthetic"] or {}
            if not isinstance(syn, Mapping):
                raise ConfigError("dataset.synthetic must be a mapping of generator parameters")
            for k in syn:
                if k not in _SYNTHETIC_KEYS:
                    raise ConfigError(
                        f"unknown dataset.synthetic key {k!r}{_suggest(k, sorted(_SYNTHETIC_KEYS))}"
                    )
            ds = {"synthetic": dict(syn)}
        else:
            if not isinstance(ds["path"], str) or not ds["path"]:
                raise ConfigError("dataset.path must be a folder path")
            ds = {"path": ds["path"]}
        strategies = d["strategies"]
        if isinstance(strategies, str):
            strategies = [strategies]
        if (
            not isinstance(strategies, (list, tuple))
            or not strategies
            or not all(isinstance(s, str) for s in strategies)
        ):
            raise ConfigError(f"strategies must be a non-empty list of names, got {strategies!r}")
        if len(set(strategies)) != len(strategies):
            raise ConfigError(f"strategies has duplicates: {strategies}")
        seeds = d.get("seeds", [0])
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = [seeds]
        if (
            not isinstance(seeds, (list, tuple))
            or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        ):
            raise ConfigError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"seeds has duplicates: {seeds}")
        frac = d.get("held_out_fraction", 0.25)
        if not isinstance(frac, (int, float)) or isinstance(frac, bool) or not 0 < frac < 1:
            raise ConfigError(f"held_out_fraction must lie in (0, 1), got {frac!r}")
        sep = d.get("level_separator")
        if sep is not None and (not isinstance(sep, str) or not sep):
            raise ConfigError(f"level_separator must be a non-empty string or null, got {sep!r}")
        trainer = d.get("trainer", {"backend": "unet"})
        if isinstance(trainer, str):
            trainer = {"backend": trainer}
        if not isinstance(trainer, Mapping):
            raise ConfigError("trainer must be a mapping with a 'backend' key")
        trainer = dict(trainer)
        trainer.setdefault("backend", "unet")
        if trainer["backend"] not in TRAINER_BACKENDS:
            raise ConfigError(
                f"unknown trainer backend {trainer['backend']!r}; known: {list(TRAINER_BACKENDS)}"
            )
        sopts = d.get("strategy_options", {}) or {}
        if not isinstance(sopts, Mapping) or not all(
            isinstance(v, Mapping) for v in sopts.values()
        ):
            raise ConfigError("strategy_options must map strategy names to option mappings")
        settings = d.get("settings", {}) or {}
        if not isinstance(settings, Mapping) or not all(
            isinstance(v, Mapping) for v in settings.values()
        ):
            raise ConfigError("settings must map setting names to override mappings")
        for sname, over in settings.items():
            if not isinstance(sname, str) or not sname or "/" in sname:
                raise ConfigError(f"setting names must be non-empty strings without '/': {sname!r}")
            for k in over:
                if k in ("settings", "strategies", "strategy", "seeds", "seed", "name"):
                    raise ConfigError(f"setting {sname!r} cannot override {k!r}")
        resources = d.get("resources", {}) or {}
        if not isinstance(resources, Mapping) or set(resources) - {"run", "member"}:
            raise ConfigError(
                "resources must be {run: {...}, member: {...}} (Ray resources of a run task and "
                "of a member-training task)"
            )
        try:
            resources = {k: check_resources(v, f"resources.{k}") for k, v in resources.items()}
        except MedtrustError as e:
            raise ConfigError(str(e)) from None
        name = d.get("name", "al")
        if not isinstance(name, str) or not name:
            raise ConfigError("name must be a non-empty string")
        full = d.get("full_data", False)
        if not isinstance(full, bool):
            raise ConfigError(f"full_data must be true or false, got {full!r}")
        full_trainer = d.get("full_data_trainer", {}) or {}
        if not isinstance(full_trainer, Mapping) or "backend" in full_trainer:
            raise ConfigError(
                "full_data_trainer must map trainer settings to override for the full-data "
                "reference (same backend)"
            )
        cfg = cls(
            dataset=ds,
            strategies=tuple(strategies),
            patch_size=_triple(d["patch_size"], "patch_size"),
            query_size=_int(d, "query_size", None, 1),
            name=name,
            held_out_fraction=float(frac),
            split_seed=_int(d, "split_seed", 0, 0),
            level_separator=sep,
            starting_budget=str(d.get("starting_budget", "random_fg33_all_classes")),
            starting_budget_size=_int(d, "starting_budget_size", None, 1),
            rounds=_int(d, "rounds", 5, 1),
            pooling_stride=_triple(d.get("pooling_stride", 1), "pooling_stride"),
            target_spacing=_target_spacing(d.get("target_spacing")),
            patches_per_image=_int(d, "patches_per_image", 20, 1),
            seeds=tuple(int(s) for s in seeds),
            ensemble_size=_int(d, "ensemble_size", 5, 1),
            trainer=trainer,
            strategy_options={str(k): dict(v) for k, v in sopts.items()},
            full_data=full,
            full_data_trainer=dict(full_trainer),
            settings={str(k): dict(v) for k, v in settings.items()},
            resources=resources,
            base_dir=str(Path(base_dir).resolve()),
        )
        cfg.trainer_settings()  # check the backend's settings now
        if full_trainer:
            cfg.full_data_config().trainer_settings()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (``base_dir`` and ``setting`` included)."""
        return json.loads(json.dumps(asdict(self)))

    # ------------------------------------------------------------------ derived
    @property
    def array_patch_size(self) -> tuple[int, int, int]:
        """``patch_size`` in medtrust's (nibabel) array order."""
        from medtrust.io.rounds import to_array_order

        return to_array_order(self.patch_size)

    @property
    def array_target_spacing(self) -> tuple[float, float, float] | None:
        """``target_spacing`` in medtrust's (nibabel) array order (None: the raw grid)."""
        if self.target_spacing is None:
            return None
        a, b, c = self.target_spacing
        return (c, b, a)

    @property
    def array_stride(self) -> tuple[int, int, int]:
        """``pooling_stride`` in medtrust's (nibabel) array order."""
        from medtrust.io.rounds import to_array_order

        return to_array_order(self.pooling_stride)

    @property
    def starting_size(self) -> int:
        """Patches of the starting budget (default: the query size, as in the paper)."""
        return self.starting_budget_size or self.query_size

    def total_patches(self) -> int:
        """Patches annotated by the end of the last round."""
        return self.starting_size + (self.rounds - 1) * self.query_size

    def dataset_path(self) -> Path | None:
        """Resolved dataset folder (None for the synthetic dataset)."""
        if "path" not in self.dataset:
            return None
        p = Path(self.dataset["path"]).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def trainer_settings(self) -> Any:
        """The backend's validated settings object."""
        backend = self.trainer["backend"]
        opts = {k: v for k, v in self.trainer.items() if k != "backend"}
        if backend == "unet":
            from medtrust.active.trainers.unet import UNetSettings

            return UNetSettings.from_dict(opts)
        from medtrust.active.trainers.nnunet import NnUNetSettings

        return NnUNetSettings.from_dict(opts)

    def full_data_config(self) -> ExperimentConfig:
        """The config of the full-data reference (``full_data_trainer`` applied)."""
        if not self.full_data_trainer:
            return self
        return replace(self, trainer={**self.trainer, **self.full_data_trainer})

    def expand(self) -> list[ExperimentConfig]:
        """One config per setting (the config itself when ``settings`` is empty)."""
        if not self.settings:
            return [self]
        out = []
        base = {
            k: v for k, v in self.to_dict().items() if k not in ("settings", "setting", "base_dir")
        }
        for sname, over in self.settings.items():
            merged = {**base, **over}
            if "trainer" in over and isinstance(over["trainer"], Mapping):
                merged["trainer"] = {**base["trainer"], **over["trainer"]}
            try:
                cfg = ExperimentConfig.from_dict(merged, base_dir=self.base_dir)
            except ConfigError as e:
                raise ConfigError(f"setting {sname!r}: {e}") from e
            out.append(replace(cfg, setting=sname))
        return out

    def runs(self) -> list[RunSpec]:
        """Every (setting, strategy, seed) run, plus full-data references when asked."""
        out = []
        for cfg in self.expand():
            for strategy in cfg.strategies:
                for seed in cfg.seeds:
                    out.append(RunSpec(cfg, strategy, seed))
            if cfg.full_data:
                full = cfg.full_data_config()
                out += [RunSpec(full, FULL_DATA, seed) for seed in cfg.seeds]
        return out

    def fingerprint(self) -> str:
        """Hash of everything that changes results (not ``name``, ``settings`` or paths)."""
        d = self.to_dict()
        for k in ("name", "settings", "base_dir", "setting", "strategies", "seeds", "resources"):
            d.pop(k, None)
        d["trainer"].pop("num_threads", None)  # resuming with other thread counts is fine
        if d.get("target_spacing") is None:
            d.pop("target_spacing", None)  # runs made before the option keep their fingerprint
            if self.trainer["backend"] == "nnunet":
                # the working grid is nnU-Net's plan grid (runs made on the raw grid differ)
                d["target_spacing"] = "nnunet_plan"
        d["dataset"] = (
            {"path": str(self.dataset_path().resolve())}  # type: ignore[union-attr]
            if self.dataset_path() is not None
            else d["dataset"]
        )
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Check everything that can fail before training (every setting).

        Raises
        ------
        ConfigError
            Unknown strategy, patch larger than the images, query budget larger than the pool
            can hold, too few images for the held-out split, unavailable backend or device.
        DatasetError
            Missing or malformed dataset files.
        """
        for cfg in self.expand():
            try:
                cfg._validate_one()
            except (ConfigError, DatasetError) as e:
                if cfg.setting != "default" or self.settings:
                    raise type(e)(f"setting {cfg.setting!r}: {e}") from e
                raise

    def _validate_one(self) -> None:
        from medtrust.active.loop.data import dataset_shapes, split_cases

        check_strategy(self.starting_budget, role="starting_budget")
        for s in self.strategies:
            check_strategy(s, role="strategy")
        for s in (*self.strategies, self.starting_budget):
            if s.startswith("precomputed"):  # a replay needs its source before any training
                folder = self.strategy_options.get(s, {}).get("folder")
                if folder is None or not (Path(self.base_dir) / Path(folder)).is_dir():
                    raise ConfigError(
                        f"strategy {s!r} replays round files: set strategy_options.{s}.folder "
                        f"to an existing run folder (got {folder!r})"
                    )
        for s in self.strategy_options:
            if s not in self.strategies and s != self.starting_budget:
                raise ConfigError(
                    f"strategy_options names {s!r}, which is not a strategy of this config"
                )
        self.trainer_settings()
        _check_backend(self)
        shapes = dataset_shapes(self, working=True)  # patches are placed on the working grid
        n = len(shapes)
        held, pool = split_cases(
            sorted(shapes), self.held_out_fraction, self.split_seed, self.level_separator
        )
        if not held or not pool:
            raise ConfigError(
                f"held_out_fraction {self.held_out_fraction} of {n} images leaves "
                f"{len(held)} held-out and {len(pool)} pool images; both need at least one"
            )
        pool_shapes = [shapes[c] for c in pool]
        ps = self.array_patch_size
        for ax, name in enumerate("xyz"):  # array axes 0, 1, 2 are SimpleITK's x, y, z
            largest = max(s[ax] for s in pool_shapes)
            if ps[ax] > largest:
                raise ConfigError(
                    f"patch_size {list(self.patch_size)} (SimpleITK order z, y, x) is larger "
                    f"than every pool image along {name} (largest image: {largest} voxels"
                    + (
                        f" at target_spacing {list(self.target_spacing)})"
                        if self.target_spacing is not None
                        else ")"
                    )
                )
        capacity = sum(
            math.prod(max(s // p, 0) for s, p in zip(shape, ps)) for shape in pool_shapes
        )
        per_round = len(pool) * self.patches_per_image
        if self.query_size > per_round:
            raise ConfigError(
                f"query_size {self.query_size} exceeds what one round can pick: {len(pool)} pool "
                f"images x patches_per_image {self.patches_per_image} = {per_round}"
            )
        if self.total_patches() > capacity:
            raise ConfigError(
                f"the experiment annotates {self.total_patches()} patches (starting budget "
                f"{self.starting_size} + {self.rounds - 1} rounds x query_size {self.query_size})"
                f" but the pool holds at most {capacity} non-overlapping patches of size "
                f"{list(self.patch_size)}; lower query_size or rounds"
            )


FULL_DATA = "_full_data"


def check_strategy(name: str, *, role: str) -> None:
    """Raise :class:`ConfigError` for an unknown strategy name (with a did-you-mean hint)."""
    from medtrust.active import list_strategies

    names = list_strategies()
    if name not in names:
        raise ConfigError(f"unknown {role} {name!r}{_suggest(name, names)}; known: {names}")


@dataclass(frozen=True)
class RunSpec:
    """One run: a setting's config, a strategy and a seed (``FULL_DATA``: the reference)."""

    config: ExperimentConfig
    strategy: str
    seed: int

    @property
    def key(self) -> str:
        """``setting/strategy/seed_N``: the run's folder below ``runs/``."""
        return f"{self.config.setting}/{self.strategy}/seed_{self.seed}"

    def fingerprint(self) -> str:
        """Hash identifying the run's inputs."""
        h = hashlib.sha256(f"{self.config.fingerprint()}|{self.strategy}|{self.seed}".encode())
        return h.hexdigest()[:16]


def _target_spacing(v: Any) -> tuple[float, float, float] | None:
    """``target_spacing``: None or 3 positive numbers."""
    if v is None:
        return None
    try:
        vals = tuple(float(x) for x in v)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"target_spacing must be 3 positive numbers or null, got {v!r}") from e
    if len(vals) != 3 or not all(math.isfinite(x) and x > 0 for x in vals):
        raise ConfigError(f"target_spacing must be 3 positive numbers or null, got {v!r}")
    return (vals[0], vals[1], vals[2])


#: Modules each trainer backend imports; validation imports them (issue 16: without torch,
#: ``al validate`` said "valid" and ``al run`` ended in a ModuleNotFoundError traceback).
BACKEND_MODULES: dict[str, tuple[str, ...]] = {
    "unet": ("torch",),
    "nnunet": ("torch", "nnunetv2"),
}


def _check_backend(cfg: ExperimentConfig) -> None:
    from medtrust._extras import require
    from medtrust.exceptions import MissingExtraError

    backend = cfg.trainer["backend"]
    for module in BACKEND_MODULES.get(backend, ()):
        try:
            require(module, purpose=f"trainer backend {backend!r}")
        except MissingExtraError as e:
            raise ConfigError(str(e)) from None
    device = cfg.trainer.get("device", "auto")
    if isinstance(device, str) and device.startswith("cuda"):
        import torch  # importable: checked above (both backends need it)

        if not torch.cuda.is_available():
            raise ConfigError(f"trainer.device is {device!r} but CUDA is not available")


def load_config(path: str | Path) -> ExperimentConfig:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) experiment config.

    Raises
    ------
    ConfigError
        Missing file, unreadable syntax, or invalid content (see :class:`ExperimentConfig`).
    """
    path = Path(path)
    raw = read_config(path, formats=("yaml", "toml"), what="experiment config")
    return ExperimentConfig.from_dict(raw, base_dir=path.parent)


def make_trainer(cfg: ExperimentConfig) -> Any:
    """The trainer backend of a config."""
    settings = cfg.trainer_settings()
    if cfg.trainer["backend"] == "unet":
        from medtrust.active.trainers.unet import UNetTrainer

        return UNetTrainer(settings)
    from medtrust.active.trainers.nnunet import NnUNetTrainerBackend

    return NnUNetTrainerBackend(settings)
