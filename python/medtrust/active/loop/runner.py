"""One AL run (setting x strategy x seed) with its state on disk after every step.

(Over 400 lines: the run's on-disk state machine. Each step's write and its resume check
sit side by side, so that what a killed run leaves behind and how it resumes can be read in
one place; the steps' computations live in their own modules.)

Run folder ``OUT/runs/SETTING/STRATEGY/seed_N/``::

    run.json            what the run is (config fingerprint); a mismatch refuses to resume
    split.json          held-out and pool cases, pool voxel counts
    loop_000.json       starting budget (nnActive round-file format); loop_001.json, ...
    STRATEGY_001.json   every candidate of that query with score, key, stratum and whether
                        it was chosen (nnActive keeps ``<strategy>_XXX.json`` alike)
    round_000/labels/   partial label maps (ignore elsewhere) + labels.json
    round_000/model/member_M/   one trained member each
    round_000/eval.json held-out Dice per case and class (on the raw image grid)
    round_000/query.json        log of the query that follows the round
    results.parquet     one row per finished round
    done.json           the run is complete

Every file is written atomically and every folder is renamed into place when complete, so a
step either exists whole or not at all. A resumed run skips what exists and recomputes the
rest; all randomness is derived from (seed, round, member), so the final table equals an
uninterrupted run's (apart from timing columns).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from medtrust._io import atomic_write_json, atomic_write_parquet
from medtrust.active import (
    Patch,
    Pool,
    QueryResult,
    Strategy,
    get_strategy,
    read_round,
    write_round,
)
from medtrust.active.loop.config import FULL_DATA, RunSpec, make_trainer
from medtrust.active.loop.data import DatasetView, partial_labels, split_cases
from medtrust.active.loop.evaluation import dice_on_raw_grid, dice_per_class, summarize_dice
from medtrust.active.spacing import box_between
from medtrust.active.trainers.base import TrainingData, atomic_dir, member_dir
from medtrust.exceptions import ConfigError, InternalError
from medtrust.uncertainty import SlabAccumulator

__all__ = [
    "TIMING_COLUMNS",
    "MemberTrainer",
    "derive_seed",
    "run_dir",
    "run_experiment",
    "run_is_done",
    "train_member",
]

log = logging.getLogger("medtrust.al")

#: Columns that differ between an interrupted and an uninterrupted run.
TIMING_COLUMNS = ("train_s", "eval_s", "query_s")


#: ``train_members(spec, out, round, members)``: trains the listed members of a round (each
#: through :func:`train_member`, e.g. as parallel cluster tasks) and returns when all are saved.
MemberTrainer = Callable[[RunSpec, Path, int, list[int]], None]


def derive_seed(seed: int, *ids: int) -> int:
    """A 31-bit seed derived from ``seed`` and integer ids (independent streams)."""
    return int(np.random.SeedSequence([seed, *ids]).generate_state(1, np.uint32)[0] >> 1)


def run_dir(out: Path, spec: RunSpec) -> Path:
    """Folder of a run."""
    return Path(out) / "runs" / spec.key


def run_is_done(out: Path, spec: RunSpec) -> bool:
    """Whether the run finished (with the same configuration)."""
    d = run_dir(out, spec)
    if not (d / "done.json").is_file():
        return False
    try:
        return json.loads((d / "run.json").read_text())["fingerprint"] == spec.fingerprint()
    except (OSError, KeyError, json.JSONDecodeError):
        return False


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


class _Run:
    def __init__(
        self,
        spec: RunSpec,
        out: Path,
        view: DatasetView,
        progress: bool,
        on_step: Callable[[str], None] | None,
        train_members: MemberTrainer | None = None,
    ) -> None:
        self.spec = spec
        self.train_members = train_members
        self.cfg = spec.config
        self.view = view
        self.out = out
        self.dir = run_dir(out, spec)
        self.full = spec.strategy == FULL_DATA
        self.rounds = 1 if self.full else self.cfg.rounds
        self.trainer = make_trainer(self.cfg)
        self.on_step = on_step
        self.progress = progress
        self.ending = view.dataset.file_ending
        self._predictors: tuple[int, list[Any]] | None = None
        self._bar: Any = None

    # ------------------------------------------------------------------ helpers
    def _done(self, name: str) -> None:
        log.debug("%s: %s done", self.spec.key, name)
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(name)
        if self.on_step is not None:
            self.on_step(name)

    def rdir(self, k: int) -> Path:
        return self.dir / f"round_{k:03d}"

    def loop_file(self, k: int) -> Path:
        return self.dir / f"loop_{k:03d}.json"

    def grid_file(self, k: int) -> Path:
        """The working-grid boxes of round file ``k`` (only when the loop resamples)."""
        return self.dir / f"working_grid_loop_{k:03d}.json"

    def to_raw(self, p: Patch) -> Patch:
        """A working-grid box on the raw image grid (itself when the loop does not resample)."""
        if self.view.raw_shapes is None:
            return p
        return box_between(p, self.view.shapes[p.image_id], self.view.raw_shapes[p.image_id])

    def write_boxes(self, k: int, boxes: list[Patch]) -> None:
        """Round file ``k`` on the raw grid (nnActive's), after the working-grid copy."""
        if self.view.resampled:
            write_round(
                self.grid_file(k),
                boxes,
                file_ending=self.ending,
                # SimpleITK (plans) order, as the config's target_spacing
                extra={"target_spacing": list(reversed(self.view.target_spacing or ()))},
            )
        write_round(self.loop_file(k), [self.to_raw(b) for b in boxes], file_ending=self.ending)

    def read_boxes(self, k: int) -> list[Patch]:
        """Boxes of round file ``k`` on the working grid."""
        f = self.grid_file(k) if self.view.resampled else self.loop_file(k)
        return read_round(f, shapes=self.view.shapes)

    def boxes_until(self, k: int) -> list[Patch]:
        out: list[Patch] = []
        for i in range(k + 1):
            out += self.read_boxes(i)
        return out

    def n_steps(self) -> int:
        m = self.cfg.ensemble_size
        return 3 + self.rounds * (2 + m) + (self.rounds - 1) + 1

    # ------------------------------------------------------------------ steps
    def init(self) -> None:
        f = self.dir / "run.json"
        fp = self.spec.fingerprint()
        if f.is_file():
            old = _read_json(f)
            if old.get("fingerprint") != fp:
                raise ConfigError(
                    f"{self.dir} holds a run made with a different configuration "
                    f"(fingerprint {old.get('fingerprint')} != {fp}); use another output "
                    "folder or delete that run"
                )
            self._done("init")
            return
        from medtrust import __version__

        atomic_write_json(
            f,
            {
                "fingerprint": fp,
                "setting": self.cfg.setting,
                "strategy": self.spec.strategy,
                "seed": self.spec.seed,
                "config": self.cfg.to_dict(),
                "trainer": self.trainer.describe(),
                "medtrust_version": __version__,
            },
        )
        self._done("init")

    def split(self) -> dict[str, Any]:
        f = self.dir / "split.json"
        if not f.is_file():
            held, pool = split_cases(
                sorted(self.view.shapes),
                self.cfg.held_out_fraction,
                self.cfg.split_seed,
                self.cfg.level_separator,
            )
            n = self.view.n_classes
            fg = np.zeros(n, np.int64)
            for c in pool:
                fg += np.bincount(np.asarray(self.view.ground_truth(c)).ravel(), minlength=n)[:n]
            atomic_write_json(
                f,
                {
                    "held_out": held,
                    "pool": pool,
                    "pool_voxels": int(sum(int(np.prod(self.view.shapes[c])) for c in pool)),
                    "pool_class_voxels": fg.tolist(),
                },
            )
        self._done("split")
        return _read_json(f)

    def start(self, split: dict[str, Any]) -> None:
        f = self.loop_file(0)
        if not f.is_file():
            t0 = time.perf_counter()
            if self.full:
                boxes = [Patch(c, (0, 0, 0), self.view.shapes[c]) for c in split["pool"]]
                info: dict[str, Any] = {"full_data": True}
            else:
                res, info = self._run_strategy(
                    self.cfg.starting_budget,
                    split,
                    [],
                    self.cfg.starting_size,
                    0,
                    None,
                    derive_seed(self.spec.seed, 0x57A27),
                )
                boxes = list(res.patches)
                self._write_candidates(self.cfg.starting_budget, 0, res)
            atomic_write_json(
                self.rdir(0) / "start.json",
                {
                    "strategy": self.cfg.starting_budget,
                    "log": info,
                    "n": len(boxes),
                    "query_s": time.perf_counter() - t0,
                },
            )
            self.write_boxes(0, boxes)
        self._done("start")

    def _strategy(self, name: str) -> Strategy:
        opts = dict(self.cfg.strategy_options.get(name, {}))
        common = {
            "patch_size": self.cfg.array_patch_size,
            "stride": self.cfg.array_stride,
            "n_patch_per_image": self.cfg.patches_per_image,
        }
        if name.startswith("precomputed") and self.view.resampled:
            # replayed round files are on the raw grid (working-grid copies when made alike)
            opts.setdefault("raw_shapes", self.view.raw_shapes)
            opts.setdefault("target_spacing", list(reversed(self.view.target_spacing or ())))
        s = get_strategy(name, **common, **opts)
        if hasattr(s, "query_steps") and "query_steps" not in opts:
            # ClaSP's beta schedule runs over the experiment's training rounds.
            s = get_strategy(name, **common, query_steps=max(self.cfg.rounds, 2), **opts)
        return s

    def _run_strategy(
        self,
        name: str,
        split: dict[str, Any],
        boxes: list[Patch],
        n: int,
        k: int,
        uncertainty: Any,
        seed: int,
        features: Any = None,
    ) -> tuple[QueryResult, dict[str, Any]]:
        """Run strategy ``name`` for one round; returns its result and a JSON-able log."""
        pool_cases = tuple(split["pool"])
        pool = Pool(
            pool_cases,
            {c: self.view.shapes[c] for c in pool_cases},
            uncertainty=uncertainty,
            labels=self.view.ground_truth,
            features=features,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = self._strategy(name).query(pool, boxes, size=n, round_index=k, seed=seed)
        log = res.log
        info = {
            "strategy": log.strategy,
            "config": log.config,
            "beta": log.beta,
            "requested": log.requested,
            "quotas": log.quotas,
            "messages": list(log.messages),
            "warnings": [str(w.message) for w in caught],
            "n_candidates": len(log.candidates),
        }
        return res, info

    def _write_candidates(self, name: str, index: int, res: QueryResult) -> None:
        """Every candidate of a query as ``<strategy>_XXX.json`` (round-file records)."""
        from medtrust.io.rounds import write_round_records

        cands = res.log.candidates
        boxes = [
            self.to_raw(
                Patch(
                    c["image_id"], (c["z"], c["y"], c["x"]), (c["size_z"], c["size_y"], c["size_x"])
                )
            )
            for c in cands
        ]
        write_round_records(
            self.dir / f"{name}_{index:03d}.json",
            [(b.image_id + self.ending, b.start, b.size) for b in boxes],
            extra={
                key: [c[key] for c in cands]
                for key in ("stratum", "score", "key", "selected", "query_rank")
            },
        )

    def labels(self, k: int) -> dict[str, Any]:
        d = self.rdir(k) / "labels"
        if not d.is_dir():
            boxes = self.boxes_until(k)
            by_case: dict[str, list[Patch]] = {}
            for b in boxes:
                by_case.setdefault(b.image_id, []).append(b)
            n = self.view.n_classes
            manifest: dict[str, Any] = {"cases": {}, "n_patches": len(boxes)}
            with atomic_dir(d) as tmp:
                for case in sorted(by_case):
                    gt = np.asarray(self.view.ground_truth(case))
                    lab = partial_labels(gt, [(b.start, b.size) for b in by_case[case]], n)
                    np.save(tmp / f"{case}.npy", lab)
                    counts = np.bincount(lab.ravel(), minlength=n + 1)
                    manifest["cases"][case] = {
                        "annotated": int(counts[:n].sum()),
                        "class_voxels": counts[:n].tolist(),
                        "n_patches": len(by_case[case]),
                    }
                (tmp / "labels.json").write_text(json.dumps(manifest))
        self._done(f"labels:{k}")
        return _read_json(d / "labels.json")

    def training_data(self, k: int, manifest: dict[str, Any]) -> TrainingData:
        cases = sorted(manifest["cases"])
        lab_dir = self.rdir(k) / "labels"
        ds = self.view.dataset
        return TrainingData(
            cases=tuple(self.view.case(c, lab_dir / f"{c}.npy") for c in cases),
            n_classes=self.view.n_classes,
            class_names=tuple(ds.class_names),
            n_channels=ds.n_channels,
            ignore_label=self.view.ignore_label,
            spacing=self.view.median_spacing(cases),
            channel_names=dict(ds.channel_names),
        )

    def train(self, k: int, data: TrainingData) -> None:
        workdir = self.rdir(k) / "model"
        m_total = self.cfg.ensemble_size
        missing = [m for m in range(m_total) if not member_dir(workdir, m).is_dir()]
        if missing:
            self.trainer.prepare(data, workdir)
        if missing and self.train_members is not None:
            # An engine trains the missing members elsewhere (in parallel); each writes its
            # member folder atomically, so what it returns is all there is to check.
            self.train_members(self.spec, self.out, k, missing)
            lost = [m for m in missing if not member_dir(workdir, m).is_dir()]
            if lost:
                raise InternalError(f"{self.spec.key}: round {k} members {lost} were not saved")
        for m in range(m_total):
            if not member_dir(workdir, m).is_dir():
                log.info("%s: round %d, training member %d/%d", self.spec.key, k, m + 1, m_total)
                self.trainer.train_member(
                    data, m, m_total, workdir, derive_seed(self.spec.seed, k, m)
                )
            self._done(f"train:{k}:{m}")

    def predictors(self, k: int) -> list[Any]:
        if self._predictors is None or self._predictors[0] != k:
            self.close_predictors()
            workdir = self.rdir(k) / "model"
            self._predictors = (
                k,
                [self.trainer.load_member(workdir, m) for m in range(self.cfg.ensemble_size)],
            )
        return self._predictors[1]

    def close_predictors(self) -> None:
        if self._predictors is not None:
            for p in self._predictors[1]:
                p.close()
        self._predictors = None

    def ensemble(self, k: int, case: str, mode: str = "eval") -> SlabAccumulator:
        data = self.view.case(case)
        acc = SlabAccumulator(self.view.n_classes, data.shape)
        for p in self.predictors(k):
            acc.add_slabs(p.predict_slabs(data, mode))
        return acc

    def evaluate(self, k: int, split: dict[str, Any]) -> None:
        f = self.rdir(k) / "eval.json"
        if not f.is_file():
            t0 = time.perf_counter()
            per_case = {}
            for case in split["held_out"]:
                acc = self.ensemble(k, case, "eval")
                if self.view.resampled:
                    # on the raw image grid, as nnU-Net exports its predictions
                    per_case[case] = dice_on_raw_grid(
                        acc.mean_probs(),
                        np.asarray(self.view.raw_ground_truth(case)),
                        self.view.n_classes,
                    )
                else:
                    gt = np.asarray(self.view.ground_truth(case))
                    per_case[case] = dice_per_class(acc.argmax(), gt, self.view.n_classes)
            arr = np.array([per_case[c] for c in split["held_out"]])
            per_class, mean = summarize_dice(arr)
            atomic_write_json(
                f,
                {
                    "per_case": {
                        c: [None if np.isnan(v) else float(v) for v in d]
                        for c, d in per_case.items()
                    },
                    "per_class": [None if np.isnan(v) else float(v) for v in per_class],
                    "dice_mean": None if np.isnan(mean) else mean,
                    "eval_s": time.perf_counter() - t0,
                },
            )
        self._done(f"eval:{k}")

    def query(self, k: int, split: dict[str, Any]) -> None:
        f = self.loop_file(k + 1)
        if not f.is_file():
            t0 = time.perf_counter()
            boxes = self.boxes_until(k)
            cache: dict[str, SlabAccumulator] = {}

            def uncertainty(case: str) -> SlabAccumulator:
                if case not in cache:
                    cache.clear()  # one image's maps at a time
                    cache[case] = self.ensemble(k, case, "query")
                return cache[case]

            def features(case: str) -> np.ndarray:
                # kmeans_bald: the first member's encoder (members' feature spaces differ)
                return self.predictors(k)[0].features(self.view.case(case))

            name = self.spec.strategy
            res, info = self._run_strategy(
                name, split, boxes, self.cfg.query_size, k, uncertainty, self.spec.seed, features
            )
            new = list(res.patches)
            self._write_candidates(name, k + 1, res)
            cache.clear()
            _check_boxes(new, boxes, self.view.shapes, self.cfg.query_size, info)
            atomic_write_json(
                self.rdir(k) / "query.json",
                {
                    "strategy": name,
                    "round_index": k,
                    "n": len(new),
                    "log": info,
                    "query_s": time.perf_counter() - t0,
                },
            )
            self.write_boxes(k + 1, new)
        self._done(f"query:{k}")

    # ------------------------------------------------------------------ table
    def table(self, split: dict[str, Any]) -> Any:
        import polars as pl

        names = list(self.view.dataset.class_names)
        pool_fg = np.asarray(split["pool_class_voxels"], np.int64)
        rows = []
        for k in range(self.rounds):
            ef = self.rdir(k) / "eval.json"
            if not ef.is_file():
                break
            ev = _read_json(ef)
            man = _read_json(self.rdir(k) / "labels" / "labels.json")
            cls = np.zeros(len(names), np.int64)
            for v in man["cases"].values():
                cls += np.asarray(v["class_voxels"], np.int64)
            annotated = int(sum(v["annotated"] for v in man["cases"].values()))
            workdir = self.rdir(k) / "model"
            train_s = 0.0
            for m in range(self.cfg.ensemble_size):
                info = member_dir(workdir, m) / "info.json"
                if info.is_file():
                    train_s += float(_read_json(info).get("train_s", float("nan")))
            qf = self.rdir(k) / "query.json"
            row: dict[str, Any] = {
                "setting": self.cfg.setting,
                "strategy": self.spec.strategy,
                "seed": self.spec.seed,
                "round": k,
                "n_patches": int(man["n_patches"]),
                "n_labelled_images": len(man["cases"]),
                "annotated_voxels": annotated,
                "annotated_fraction": annotated / max(int(split["pool_voxels"]), 1),
                "fg_voxels": int(cls[1:].sum()),
                "fg_fraction": float(cls[1:].sum() / max(int(pool_fg[1:].sum()), 1)),
                "dice_mean": float("nan") if ev["dice_mean"] is None else ev["dice_mean"],
            }
            for i, n in enumerate(names):
                v = ev["per_class"][i]
                row[f"dice_{n}"] = float("nan") if v is None else float(v)
            for i, n in enumerate(names[1:], start=1):
                row[f"fg_voxels_{n}"] = int(cls[i])
            for i, n in enumerate(names[1:], start=1):
                # Share of the pool's voxels of class n inside annotated boxes (NaN: absent).
                row[f"fg_fraction_{n}"] = (
                    float(cls[i] / pool_fg[i]) if pool_fg[i] > 0 else float("nan")
                )
            row["train_s"] = train_s
            row["eval_s"] = float(ev["eval_s"])
            row["query_s"] = float(_read_json(qf)["query_s"]) if qf.is_file() else float("nan")
            rows.append(row)
        return pl.DataFrame(rows)

    def write_table(self, split: dict[str, Any]) -> Any:
        t = self.table(split)
        atomic_write_parquet(self.dir / "results.parquet", t)
        if t.height:
            atomic_write_parquet(self.dir / "patches.parquet", self.patch_table(t.height))
        return t

    def patch_table(self, n_rounds: int) -> Any:
        """One row per annotated box of rounds < ``n_rounds``: its class voxels and shares."""
        import polars as pl

        names = list(self.view.dataset.class_names)
        rows = []
        for k in range(min(n_rounds, self.rounds)):
            f = self.loop_file(k)
            if not f.is_file():
                break
            for p in self.read_boxes(k):
                gt = np.asarray(self.view.ground_truth(p.image_id)[p.slices])
                counts = np.bincount(gt.ravel(), minlength=len(names))[: len(names)]
                row: dict[str, Any] = {
                    "setting": self.cfg.setting,
                    "strategy": self.spec.strategy,
                    "seed": self.spec.seed,
                    "round": k,
                    "image_id": p.image_id,
                    "voxels": int(p.volume),
                    "fg_share": float(counts[1:].sum() / max(p.volume, 1)),
                    "n_fg_classes": int((counts[1:] > 0).sum()),
                }
                for i, n in enumerate(names[1:], start=1):
                    row[f"voxels_{n}"] = int(counts[i])
                rows.append(row)
        return pl.DataFrame(rows)

    # ------------------------------------------------------------------ main
    def run(self) -> Any:
        from medtrust._io import progress as _  # noqa: F401 - progress helpers

        if self.progress:
            from medtrust._io import progress_bar

            self._bar = progress_bar(total=self.n_steps(), desc=self.spec.key, leave=False)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.init()
            split = self.split()
            self.start(split)
            for k in range(self.rounds):
                manifest = self.labels(k)
                data = self.training_data(k, manifest)
                self.train(k, data)
                self.evaluate(k, split)
                self.write_table(split)
                if k < self.rounds - 1:
                    self.query(k, split)
                self.close_predictors()
            table = self.write_table(split)
            if not (self.dir / "done.json").is_file():
                atomic_write_json(
                    self.dir / "done.json",
                    {
                        "rounds": self.rounds,
                        "final_dice": table["dice_mean"][-1] if table.height else None,
                    },
                )
            self._done("done")
            return table
        finally:
            self.close_predictors()
            if self._bar is not None:
                self._bar.close()


def _check_boxes(
    new: list[Patch],
    old: list[Patch],
    shapes: dict[str, tuple[int, int, int]],
    requested: int,
    info: dict[str, Any],
) -> None:
    """Sanity of a strategy's answer: inside the image, no overlap; shortfall is logged."""
    seen: dict[str, list[Patch]] = {}
    for b in old:
        seen.setdefault(b.image_id, []).append(b)
    for b in new:
        if b.image_id not in shapes:
            raise InternalError(f"strategy returned a patch in unknown case {b.image_id!r}")
        if any(s < 0 or s + n > dim for s, n, dim in zip(b.start, b.size, shapes[b.image_id])):
            raise InternalError(f"strategy returned a patch outside the image: {b}")
        for o in seen.get(b.image_id, []):
            if all(x < y + n and y < x + m for x, m, y, n in zip(b.start, b.size, o.start, o.size)):
                raise InternalError(f"strategy returned overlapping patches: {b} and {o}")
        seen.setdefault(b.image_id, []).append(b)
    if len(new) < requested:
        info["shortfall"] = requested - len(new)
        log.warning("query returned %d of %d patches", len(new), requested)


def run_experiment(
    spec: RunSpec,
    out: str | Path,
    *,
    view: DatasetView | None = None,
    progress: bool = False,
    on_step: Callable[[str], None] | None = None,
    train_members: MemberTrainer | None = None,
) -> Any:
    """Run (or resume) one AL run and return its per-round table (polars).

    Parameters
    ----------
    spec
        The run (see :meth:`ExperimentConfig.runs`).
    out
        Experiment folder; the run lives in ``out/runs/SETTING/STRATEGY/seed_N``.
    view
        The materialised dataset (built when None).
    progress
        Show a progress bar over the run's steps.
    on_step
        Called with the step name after each finished step (used by the resume tests).
    train_members
        Trains a round's missing members elsewhere (see :data:`MemberTrainer`); default: one
        after the other in this process.
    """
    from medtrust.active.loop.data import materialize_dataset

    out = Path(out)
    if view is None:
        view = materialize_dataset(spec.config, out, progress=progress)
    return _Run(spec, out, view, progress, on_step, train_members).run()


def train_member(spec: RunSpec, out: str | Path, k: int, member: int) -> dict[str, Any]:
    """Train member ``member`` of round ``k`` of a run from its files on disk alone.

    The unit of work a cluster engine ships to a worker: everything it needs (the round's
    partial labels, the prepared trainer folder, the dataset cache) is read from ``out``, which
    must be on storage every worker sees. Idempotent: a member already saved is not retrained.
    Returns the member's ``info.json`` content.
    """
    from medtrust.active.loop.data import materialize_dataset

    out = Path(out)
    run = _Run(spec, out, materialize_dataset(spec.config, out), False, None)
    manifest = _read_json(run.rdir(k) / "labels" / "labels.json")
    data = run.training_data(k, manifest)
    workdir = run.rdir(k) / "model"
    if not member_dir(workdir, member).is_dir():
        run.trainer.train_member(
            data, member, spec.config.ensemble_size, workdir, derive_seed(spec.seed, k, member)
        )
    info = member_dir(workdir, member) / "info.json"
    return _read_json(info) if info.is_file() else {}
