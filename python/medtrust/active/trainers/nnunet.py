"""nnU-Net v2 backend (optional extra ``nnunet``): nnU-Net trains on the partial labels.

(Over 400 lines: the one adapter to nnU-Net v2's Python API (dataset conversion, plans,
folds, training and prediction calls), kept together so that a change of nnU-Net's API is
met in one file.)

Per round, :meth:`NnUNetTrainerBackend.prepare` writes the labelled images and their partial
label maps as an nnU-Net raw dataset whose ``dataset.json`` declares the ``ignore`` label
(nnU-Net's native partial-label support), then fingerprints, plans and preprocesses it. Each
member is one nnU-Net training (``members="folds"``: fold m of an M-fold split of the labelled
images, as nnActive does; ``"seeds"``: all images, a different seed). Epochs and iterations
are set on the trainer instance; the default class ``nnUNetTrainerMedtrust`` only skips
nnU-Net's per-epoch plots and network drawing. Any trainer class nnU-Net can find by name
works too. Prediction uses nnU-Net's own sliding window and returns the probabilities in
medtrust's (nibabel) axis order; :meth:`NnUNetPredictor.features` gives the trained
network's encoder features (``kmeans_bald``).

The loop works on nnU-Net's grid: the configured ``target_spacing``, or the spacing nnU-Net
plans for the whole dataset (:func:`plan_spacing`). Images are handed to nnU-Net already
resampled to it (:mod:`medtrust.active.trainers.nnunet_grid`) and each round's plan is pinned
to that spacing, so nnU-Net does not resample again and its outputs lie on the loop's grid.

``nnUNet_raw``, ``nnUNet_preprocessed`` and ``nnUNet_results`` point into the round's work
folder while nnU-Net runs, and are restored afterwards.

Examples
--------
>>> from medtrust.active.trainers.nnunet import NnUNetSettings
>>> NnUNetSettings.from_dict({"epochs": 2}).configuration
'3d_fullres'
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medtrust._io import atomic_write_text
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
from medtrust.active.trainers.inference import encoder_feature_map
from medtrust.active.trainers.nnunet_grid import (
    case_image,
    link_or_convert,
    raw_shape,
    working_affine,
)
from medtrust.exceptions import ConfigError

__all__ = [
    "NnUNetPredictor",
    "NnUNetSettings",
    "NnUNetTrainerBackend",
    "plan_spacing",
]  # + nnUNetTrainerMedtrust

_EXT_DIR = Path(__file__).parent / "nnunet_ext"
_DATASET_NAME = "MedtrustAL"


@dataclass(frozen=True)
class NnUNetSettings:
    """Settings of the nnU-Net backend.

    Attributes
    ----------
    configuration
        nnU-Net configuration (``3d_fullres``).
    trainer_class
        Trainer class name (nnU-Net's lookup, plus medtrust's ``nnUNetTrainerMedtrust``).
    plans_identifier, planner
        Plans name and experiment planner class (e.g. ``nnUNetPlannerResEncM``).
    epochs, iterations_per_epoch, val_iterations_per_epoch
        Training length (nnActive: 200 x 250).
    initial_lr, batch_size, patch_size
        Overrides of the trainer / plans (None: nnU-Net's choice).
    members
        ``"folds"`` or ``"seeds"``.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``.
    num_processes
        Processes for fingerprinting and preprocessing.
    n_proc_da
        Data-augmentation worker processes (0: in the training process).
    eval_step, eval_mirroring, query_step, query_mirroring
        Sliding-window step and test-time mirroring on the held-out set (nnActive: 0.5,
        True) and on the pool for queries (0.75, False).
    step, mirroring
        When set, override both modes.
    dataset_id
        Dataset id used inside the round's private nnU-Net folders.
    """

    configuration: str = "3d_fullres"
    trainer_class: str = "nnUNetTrainerMedtrust"
    plans_identifier: str = "nnUNetPlans"
    planner: str = "ExperimentPlanner"
    epochs: int = 200
    iterations_per_epoch: int = 250
    val_iterations_per_epoch: int = 50
    initial_lr: float | None = None
    batch_size: int | None = None
    patch_size: tuple[int, int, int] | None = None
    members: str = "folds"
    device: str = "auto"
    num_processes: int = 2
    n_proc_da: int = 0
    eval_step: float = 0.5
    eval_mirroring: bool = True
    query_step: float = 0.75
    query_mirroring: bool = False
    step: float | None = None
    mirroring: bool | None = None
    dataset_id: int = 990

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NnUNetSettings:
        """Validated settings (unknown keys are an error)."""
        reject_unknown(d, cls, "setting(s) of trainer backend 'nnunet':")
        kw = dict(d)
        if kw.get("patch_size") is not None:
            ps = kw["patch_size"]
            if not (
                isinstance(ps, (list, tuple))
                and len(ps) == 3
                and all(isinstance(v, int) and v >= 4 for v in ps)
            ):
                raise ConfigError(f"trainer.patch_size must be 3 integers >= 4, got {ps!r}")
            kw["patch_size"] = tuple(ps)
        s = cls(**kw)
        checks = [
            (s.epochs >= 1, "trainer.epochs must be >= 1"),
            (s.iterations_per_epoch >= 1, "trainer.iterations_per_epoch must be >= 1"),
            (s.val_iterations_per_epoch >= 1, "trainer.val_iterations_per_epoch must be >= 1"),
            (s.members in ("folds", "seeds"), "trainer.members must be 'folds' or 'seeds'"),
            (s.num_processes >= 1, "trainer.num_processes must be >= 1"),
            (s.n_proc_da >= 0, "trainer.n_proc_da must be >= 0"),
            (s.step is None or 0 < s.step <= 1, "trainer.step must lie in (0, 1]"),
            (0 < s.eval_step <= 1, "trainer.eval_step must lie in (0, 1]"),
            (0 < s.query_step <= 1, "trainer.query_step must lie in (0, 1]"),
            (1 <= s.dataset_id <= 999, "trainer.dataset_id must lie in 1..999"),
            (s.batch_size is None or s.batch_size >= 1, "trainer.batch_size must be >= 1"),
            (s.initial_lr is None or s.initial_lr > 0, "trainer.initial_lr must be > 0"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        return s


def _nnunet_trainer_base() -> Any:
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    return nnUNetTrainer


def __getattr__(name: str) -> Any:
    # nnUNetTrainerMedtrust subclasses nnU-Net's trainer, so it is built on first access
    # (importing this module must not import nnunetv2).
    if name == "nnUNetTrainerMedtrust":
        cls = _make_medtrust_trainer()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


@functools.cache
def _make_medtrust_trainer() -> Any:
    base = _nnunet_trainer_base()

    class nnUNetTrainerMedtrust(base):  # type: ignore[misc, valid-type]
        """nnU-Net's default trainer without per-epoch plots or network drawings."""

        def plot_network_architecture(self) -> None:
            return None

        def on_train_start(self) -> None:
            self.logger.plot_progress_png = lambda *a, **k: None
            super().on_train_start()

    nnUNetTrainerMedtrust.__module__ = __name__
    nnUNetTrainerMedtrust.__qualname__ = "nnUNetTrainerMedtrust"
    return nnUNetTrainerMedtrust


@contextlib.contextmanager
def nnunet_environment(
    root: Path | None, settings: NnUNetSettings, *, n_proc_da: int | None = None
) -> Iterator[dict[str, Path]]:
    """Point nnU-Net's environment variables into ``root`` (restored on exit).

    With ``root=None`` only the trainer search path and the switches are set (prediction).
    nnU-Net's planner sets torch's thread count from ``nnUNet_n_proc_DA``; the count is
    restored on exit too.
    """
    import torch

    paths = {} if root is None else {k: Path(root) / k for k in ("raw", "preprocessed", "results")}
    for p in paths.values():
        p.mkdir(parents=True, exist_ok=True)
    env = {f"nnUNet_{k}": str(p) for k, p in paths.items()}
    env.update(
        {
            "nnUNet_n_proc_DA": str(settings.n_proc_da if n_proc_da is None else n_proc_da),
            "nnUNet_compile": "false",
            "nnUNet_extTrainer": str(_EXT_DIR),
        }
    )
    old = {k: os.environ.get(k) for k in env}
    threads = torch.get_num_threads()
    os.environ.update(env)
    try:
        yield paths
    finally:
        torch.set_num_threads(threads)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _device(name: str) -> Any:
    import torch

    from medtrust.exceptions import DeviceError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"trainer.device is {name!r} but CUDA is not available")
    return torch.device(name)


def _sitk(spacing: tuple[float, float, float]) -> list[float]:
    """A nibabel-order spacing in nnU-Net's (SimpleITK) order."""
    return [float(v) for v in reversed(spacing)]


def _on_one_grid(data: TrainingData) -> bool:
    """Whether every case has the round's spacing (the loop's working grid)."""
    return all(np.allclose(c.spacing, data.spacing, rtol=1e-6, atol=0.0) for c in data.cases)


def _fingerprint_and_plan(s: NnUNetSettings, grid: list[float] | None = None) -> str:
    """Fingerprint and plan ``s.dataset_id`` with nnU-Net; returns the plans identifier.

    Runs inside :func:`nnunet_environment` on the raw dataset written there; ``grid`` is a
    target spacing (sitk axis order) that overrides the planner's.
    """
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprints,
        plan_experiments,
    )

    extract_fingerprints(
        [s.dataset_id],
        num_processes=s.num_processes,
        check_dataset_integrity=False,
        clean=True,
        verbose=False,
    )
    return str(
        plan_experiments(
            [s.dataset_id],
            experiment_planner_class_name=s.planner,
            overwrite_plans_name=s.plans_identifier,
            overwrite_target_spacing=grid,
        )
    )


def plan_spacing(dataset: Any, settings: NnUNetSettings, workdir: Path) -> tuple[float, ...]:
    """The spacing nnU-Net's plan gives a whole dataset (SimpleITK order), cached in ``workdir``.

    nnU-Net's fingerprint extraction and experiment planner (``settings.planner``,
    ``settings.plans_identifier``) run on all cases of ``dataset`` with their full labels, as
    nnActive preprocesses the whole dataset once; the spacing is that of
    ``settings.configuration`` (``3d_fullres`` when the configuration is 2-D). Idempotent: the
    result is kept in ``workdir/plan_spacing.json`` and nnU-Net's folders are removed.

    Parameters
    ----------
    dataset
        An opened nnU-Net raw dataset (:func:`medtrust.io.load_nnunet_dataset`).
    settings
        The backend's settings.
    workdir
        Folder for nnU-Net's private ``nnUNet_*`` folders and the cached result.

    Returns
    -------
    tuple of float
        The planned spacing, SimpleITK (nnU-Net plans) order.
    """
    from medtrust._io import atomic_write_json
    from medtrust.io.nnunet import write_dataset_json

    workdir = Path(workdir)
    done = workdir / "plan_spacing.json"
    if done.is_file():
        return tuple(float(v) for v in json.loads(done.read_text())["spacing"])
    s = settings
    root = workdir / "nnunet"
    shutil.rmtree(root, ignore_errors=True)
    name = f"Dataset{s.dataset_id:03d}_{_DATASET_NAME}"
    with (
        nnunet_environment(root, s, n_proc_da=max(1, s.n_proc_da)) as paths,
        _quiet(workdir / "plan.log"),
        _in_process_pools(s.num_processes == 1),
    ):
        raw = paths["raw"] / name
        for case in dataset.cases:
            for c, f in enumerate(dataset.image_files(case)):
                link_or_convert(Path(f), raw / "imagesTr" / f"{case}_{c:04d}.nii.gz")
            link_or_convert(Path(dataset.label_file(case)), raw / "labelsTr" / f"{case}.nii.gz")
        write_dataset_json(
            raw,
            labels={n: i for i, n in enumerate(dataset.class_names)},
            channel_names=dict(dataset.channel_names),
            num_training=len(dataset.cases),
            file_ending=".nii.gz",
            overwrite_image_reader_writer="NibabelIO",
            name=_DATASET_NAME,
        )
        plans_id = _fingerprint_and_plan(s)
        plans = json.loads((paths["preprocessed"] / name / f"{plans_id}.json").read_text())
    confs = plans["configurations"]
    transposed = confs.get(s.configuration, {}).get("spacing")
    if transposed is None or len(transposed) != 3:  # 2-D configurations: the 3-D plan's
        transposed = confs["3d_fullres"]["spacing"]
    # plans store spacings in their transposed axis order (coarsest axis first)
    spacing = [transposed[i] for i in plans["transpose_backward"]]
    atomic_write_json(
        done,
        {
            "spacing": [float(v) for v in spacing],
            "configuration": s.configuration,
            "planner": s.planner,
            "n_cases": len(dataset.cases),
        },
    )
    shutil.rmtree(root, ignore_errors=True)
    return tuple(float(v) for v in spacing)


class NnUNetTrainerBackend(Trainer):
    """The nnU-Net v2 backend (see the module docstring)."""

    backend = "nnunet"

    settings_class = NnUNetSettings
    settings: NnUNetSettings

    @property
    def dataset_name(self) -> str:
        """nnU-Net dataset name inside the round's folders."""
        return f"Dataset{self.settings.dataset_id:03d}_{_DATASET_NAME}"

    # ------------------------------------------------------------------ prepare
    def prepare(self, data: TrainingData, workdir: Path) -> None:
        """Write the raw dataset with partial labels, plan and preprocess (idempotent)."""
        root = Path(workdir) / "nnunet"
        marker = root / "prepared.json"
        if marker.is_file():
            return
        if root.exists():
            shutil.rmtree(root)  # an interrupted preparation restarts cleanly
        s = self.settings
        with (
            nnunet_environment(root, s, n_proc_da=max(1, s.n_proc_da)) as paths,
            _quiet(root / "prepare.log"),
            _in_process_pools(s.num_processes == 1),
        ):
            raw = paths["raw"] / self.dataset_name
            self._write_raw(data, raw)
            from nnunetv2.experiment_planning.plan_and_preprocess_api import preprocess

            grid = _sitk(data.spacing) if _on_one_grid(data) else None
            plans_id = _fingerprint_and_plan(s, grid)
            pre = paths["preprocessed"] / self.dataset_name
            self._override_plans(pre / f"{plans_id}.json", grid)
            preprocess(
                [s.dataset_id],
                plans_id,
                configurations=(s.configuration,),
                num_processes=(s.num_processes,),
                verbose=False,
            )
            self._write_splits(data, pre / "splits_final.json")
        from medtrust._io import atomic_write_json

        atomic_write_json(marker, {"dataset": self.dataset_name, "n_cases": len(data.cases)})

    def _write_raw(self, data: TrainingData, raw: Path) -> None:
        from medtrust.io.nifti import load_nifti, save_nifti
        from medtrust.io.nnunet import write_dataset_json

        (raw / "imagesTr").mkdir(parents=True, exist_ok=True)
        ending = ".nii.gz"
        for case in data.cases:
            _, sp, affine = load_nifti(case.image_files[0])
            if raw_shape(case) != case.shape:
                # The loop's working grid (target spacing): images resampled as nnU-Net's
                # preprocessing would, so nnU-Net sees its plan spacing and resamples no more.
                img, _ = case_image(case)
                affine = working_affine(affine, raw_shape(case), case.shape)
                sp = case.spacing
                for c, chan in enumerate(img):
                    save_nifti(
                        raw / "imagesTr" / f"{case.case}_{c:04d}{ending}",
                        chan.transpose(2, 1, 0),  # nnU-Net's (SimpleITK) order -> nibabel's
                        spacing=sp,
                        affine=affine,
                    )
            else:
                for c, f in enumerate(case.image_files):
                    link_or_convert(f, raw / "imagesTr" / f"{case.case}_{c:04d}{ending}")
            save_nifti(
                raw / "labelsTr" / f"{case.case}{ending}",
                np.asarray(case.labels()),
                spacing=sp,
                affine=affine,
            )
        write_dataset_json(
            raw,
            labels={n: i for i, n in enumerate(data.class_names)},
            channel_names=dict(data.channel_names)
            or {str(i): f"ch{i}" for i in range(data.n_channels)},
            num_training=len(data.cases),
            file_ending=ending,
            ignore_label=True,
            overwrite_image_reader_writer="NibabelIO",
            name=_DATASET_NAME,
        )

    def _override_plans(self, plans_file: Path, grid: list[float] | None = None) -> None:
        s = self.settings
        plans = json.loads(plans_file.read_text())
        conf = plans["configurations"].get(s.configuration)
        if conf is None:
            raise ConfigError(
                f"nnU-Net planned no configuration {s.configuration!r}; "
                f"available: {sorted(plans['configurations'])}"
            )
        changed = False
        if grid is not None and len(conf.get("spacing", [])) == 3:
            # every case is on the loop's working grid: train there without resampling
            # (plan_experiments' overwrite_target_spacing covers 3d_fullres only); plans
            # store the spacing in their transposed axis order
            want = [grid[i] for i in plans["transpose_forward"]]
            changed = [float(v) for v in conf["spacing"]] != want
            conf["spacing"] = want
        if s.batch_size is None and s.patch_size is None:
            if changed:
                atomic_write_text(plans_file, json.dumps(plans, indent=2))
            return
        if s.batch_size is not None:
            conf["batch_size"] = s.batch_size
        if s.patch_size is not None:
            # Config sizes are in SimpleITK order, nnU-Net's own (its NibabelIO reverses too).
            conf["patch_size"] = list(s.patch_size)
        atomic_write_text(plans_file, json.dumps(plans, indent=2))

    def _write_splits(self, data: TrainingData, path: Path) -> None:
        m = max(1, self._n_members)
        cases = [c.case for c in data.cases]
        splits = []
        fold = class_aware_folds(class_presence(data), m) if m > 1 and len(cases) >= m else {}
        for k in range(m):
            if fold:  # class-aware M-fold split of the labelled images
                val = [c for c in cases if fold[c] == k]
                train = [c for c in cases if c not in val]
            else:  # one member, or fewer images than folds: train on all, validate on one
                val, train = [cases[k % len(cases)]], cases
            splits.append({"train": train, "val": val})
        atomic_write_text(path, json.dumps(splits, indent=2))

    _n_members = 5

    # ------------------------------------------------------------------ training
    def train_member(
        self, data: TrainingData, member: int, n_members: int, workdir: Path, seed: int
    ) -> dict[str, Any]:
        """One nnU-Net training; the final checkpoint becomes the member folder."""
        import torch
        from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

        s = self.settings
        self._n_members = n_members
        self.prepare(data, workdir)  # no-op when prepared
        splits = Path(workdir) / "nnunet" / "preprocessed" / self.dataset_name / "splits_final.json"
        if len(json.loads(splits.read_text())) != n_members:
            self._write_splits(data, splits)
        root = Path(workdir) / "nnunet"
        fold: int | str = member if s.members == "folds" else "all"
        t0 = time.perf_counter()
        random.seed(seed)
        np.random.seed(seed % 2**32)  # noqa: NPY002 - nnU-Net's loaders use the global RNG
        torch.manual_seed(seed)
        with nnunet_environment(root, s) as paths, _quiet(root / f"train_{member}.log"):
            if s.trainer_class == "nnUNetTrainerMedtrust":
                cls = _make_medtrust_trainer()
            else:
                try:
                    cls = recursive_find_trainer_class_by_name(s.trainer_class)
                except RuntimeError as e:
                    raise ConfigError(
                        f"nnU-Net trainer class {s.trainer_class!r} not found: {e}"
                    ) from e
            pre = paths["preprocessed"] / self.dataset_name
            plans = json.loads((pre / f"{s.plans_identifier}.json").read_text())
            plans["continue_training"] = False
            dataset_json = json.loads((pre / "dataset.json").read_text())
            trainer = cls(
                plans=plans,
                configuration=s.configuration,
                fold=fold,
                dataset_json=dataset_json,
                device=_device(s.device),
            )
            shutil.rmtree(trainer.output_folder, ignore_errors=True)
            Path(trainer.output_folder).mkdir(parents=True, exist_ok=True)
            trainer.num_epochs = s.epochs
            trainer.num_iterations_per_epoch = s.iterations_per_epoch
            trainer.num_val_iterations_per_epoch = s.val_iterations_per_epoch
            trainer.save_every = 10**9
            if s.initial_lr is not None:
                trainer.initial_lr = s.initial_lr
            trainer.run_training()
            out = Path(trainer.output_folder)
            base = Path(trainer.output_folder_base)
            info = {
                "member": member,
                "fold": fold,
                "seed": seed,
                "epochs": s.epochs,
                "iterations_per_epoch": s.iterations_per_epoch,
                "trainer_class": s.trainer_class,
                "train_s": time.perf_counter() - t0,
                "device": str(trainer.device),
            }
            with atomic_dir(member_dir(workdir, member)) as tmp:
                (tmp / "fold_0").mkdir()
                shutil.copyfile(
                    out / "checkpoint_final.pth", tmp / "fold_0" / "checkpoint_final.pth"
                )
                shutil.copyfile(base / "plans.json", tmp / "plans.json")
                shutil.copyfile(base / "dataset.json", tmp / "dataset.json")
                (tmp / "info.json").write_text(json.dumps(info))
            shutil.rmtree(out, ignore_errors=True)  # the copy in the member folder is kept
        return info

    def load_member(self, workdir: Path, member: int) -> NnUNetPredictor:
        """nnU-Net predictor of one member."""
        return NnUNetPredictor(member_dir(workdir, member), self.settings)


class NnUNetPredictor(Predictor):
    """Probabilities from a trained nnU-Net member (nnU-Net's own sliding window)."""

    def __init__(self, folder: Path, settings: NnUNetSettings) -> None:
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

        self.settings = settings
        device = _device(settings.device)
        with nnunet_environment(None, settings), _quiet(None):
            self.predictor = nnUNetPredictor(
                tile_step_size=inference_options(settings, "eval")[0],
                use_gaussian=True,
                use_mirroring=inference_options(settings, "eval")[1],
                perform_everything_on_device=device.type == "cuda",
                device=device,
                verbose=False,
                verbose_preprocessing=False,
                allow_tqdm=False,
            )
            self.predictor.initialize_from_trained_model_folder(
                str(folder), use_folds=(0,), checkpoint_name="checkpoint_final.pth"
            )
        self.n_classes = int(self.predictor.label_manager.num_segmentation_heads)

    def predict_slabs(
        self, case: CaseData, mode: InferenceMode = "eval"
    ) -> Iterator[tuple[int, np.ndarray]]:
        """The whole volume as one slab (nnU-Net returns full volumes), on the case's grid."""
        # nnU-Net reads both at prediction time: one predictor serves both modes.
        step, mirroring = inference_options(self.settings, mode)
        self.predictor.tile_step_size = step
        self.predictor.use_mirroring = mirroring

        img, props = case_image(case)
        with _quiet(None):
            _, probs = self.predictor.predict_single_npy_array(img, props, None, None, True)
        probs = np.asarray(probs, dtype=np.float32).transpose(0, 3, 2, 1)  # NibabelIO order
        probs = np.ascontiguousarray(probs)
        probs /= probs.sum(0, keepdims=True)  # exact normalisation after resampling
        yield 0, probs

    def features(self, case: CaseData) -> np.ndarray:
        """Bottleneck features of the trained network's encoder, ``[F, z, y, x]`` (nibabel order).

        The case's image (on its grid, :func:`~medtrust.active.trainers.nnunet_grid.case_image`)
        goes through nnU-Net's own preprocessing (transpose, crop, normalisation), then through
        the encoder in non-overlapping tiles of the plan's patch size (no mirroring), as
        :meth:`UNetPredictor.features <medtrust.active.trainers.unet.UNetPredictor.features>`
        does for the built-in backend
        (:func:`~medtrust.active.trainers.inference.encoder_feature_map`); a region nnU-Net
        cropped away is filled with zeros (the normalised background) before encoding.

        Parameters
        ----------
        case
            The case to encode.

        Returns
        -------
        numpy.ndarray
            float32 ``[F, z, y, x]`` over the case's field of view, ``F`` the deepest encoder
            stage's channels, the axes in the case's (nibabel) order.
        """
        import torch

        p = self.predictor
        img, props = case_image(case)
        pre = p.configuration_manager.preprocessor_class(verbose=False)
        with _quiet(None):
            data, _, props = pre.run_case_npy(
                img, None, dict(props), p.plans_manager, p.configuration_manager, p.dataset_json
            )
        data = _uncrop(np.asarray(data, np.float32), props)
        tile = tuple(int(v) for v in p.configuration_manager.patch_size)
        strides = np.array(p.configuration_manager.pool_op_kernel_sizes, np.int64)
        stride = tuple(int(v) for v in strides.prod(axis=0))
        net = getattr(p.network, "_orig_mod", p.network)
        net.eval()

        def encode(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                out = net.encoder(torch.from_numpy(batch).to(p.device))
            if isinstance(out, (list, tuple)):  # the encoder returns every stage's output
                out = out[-1]
            return out.float().cpu().numpy()

        fmap = encoder_feature_map(encode, data, tile, stride)
        back = [0, *(i + 1 for i in p.plans_manager.transpose_backward)]
        fmap = fmap.transpose(back)  # SimpleITK order
        return np.ascontiguousarray(fmap.transpose(0, 3, 2, 1))  # nibabel order

    def close(self) -> None:
        """Drop the network."""
        self.predictor = None


def _uncrop(data: np.ndarray, props: dict[str, Any]) -> np.ndarray:
    """Preprocessed data put back into the grid nnU-Net cropped it from (zeros outside)."""
    before = [int(v) for v in props["shape_before_cropping"]]
    cropped = [int(v) for v in props["shape_after_cropping_and_before_resampling"]]
    bbox = [[int(a), int(b)] for a, b in props["bbox_used_for_cropping"]]
    if all(a == 0 and b == n for (a, b), n in zip(bbox, before)):
        return data
    f = [n / c for n, c in zip(data.shape[1:], cropped)]  # resampling after the crop
    full = [max(round(n * g), 1) for n, g in zip(before, f)]
    lo = [min(round(a * g), m - n) for (a, _), g, m, n in zip(bbox, f, full, data.shape[1:])]
    out = np.zeros((data.shape[0], *full), np.float32)
    out[(slice(None), *(slice(a, a + n) for a, n in zip(lo, data.shape[1:])))] = data
    return out


class _ThreadPoolContext:
    """``multiprocessing``-like module whose spawn pools are thread pools."""

    class _Ctx:
        @staticmethod
        def Pool(processes: int | None = None) -> Any:
            from multiprocessing.pool import ThreadPool

            return ThreadPool(processes or 1)

    def get_context(self, method: str | None = None) -> Any:
        return self._Ctx


@contextlib.contextmanager
def _in_process_pools(enabled: bool) -> Iterator[None]:
    """Run nnU-Net's fingerprint/preprocessing pools as threads of this process.

    nnU-Net always starts ``spawn`` process pools, whose start-up (importing torch in every
    child) dominates on small datasets. With ``num_processes == 1`` the pools become a
    one-thread pool here; with more processes nnU-Net's own pools are used.
    """
    if not enabled:
        yield
        return
    from nnunetv2.experiment_planning.dataset_fingerprint import fingerprint_extractor
    from nnunetv2.preprocessing.preprocessors import default_preprocessor

    mods = [fingerprint_extractor, default_preprocessor]
    old = [m.multiprocessing for m in mods]  # type: ignore[attr-defined]
    for m in mods:
        m.multiprocessing = _ThreadPoolContext()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for m, o in zip(mods, old):
            m.multiprocessing = o  # type: ignore[attr-defined]


@contextlib.contextmanager
def _quiet(log_file: Path | None) -> Iterator[None]:
    """Send nnU-Net's prints to a log file (or nowhere)."""
    import sys

    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        f = open(log_file, "a")
    else:
        f = open(os.devnull, "w")
    try:
        with contextlib.redirect_stdout(f):
            yield
    except BaseException:
        sys.stderr.flush()
        raise
    finally:
        f.close()
