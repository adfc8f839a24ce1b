"""``medtrust al ...``: active learning for 3D segmentation.

``medtrust al query`` runs one query strategy on saved softmax maps and writes an
nnActive-compatible round file, so the strategies work with any training framework. More
``al`` subcommands are added by appending a ``(parser-adding function)`` to
:data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medtrust._io import atomic_write_parquet, progress_enabled
from medtrust.cli.active_loop import add_loop_commands
from medtrust.cli.al_benchmark import add_benchmark_command
from medtrust.exceptions import DatasetError, InvalidArgumentError

__all__ = ["SUBCOMMANDS", "register"]

LABEL_ENDINGS = (".nii.gz", ".nii", ".npy", ".npz")


def _load_label(path: Path) -> Any:
    import numpy as np

    if path.name.endswith((".nii.gz", ".nii")):
        from medtrust.io import load_nifti

        return load_nifti(path)[0]  # corrupt files raise DatasetError
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as z:
            return z[z.files[0]]
    except Exception as e:  # truncated / corrupt: ValueError, OSError, EOFError, BadZipFile
        raise DatasetError(f"cannot read {path} as a numpy array file: {e}") from e


def _reversed(p: Any) -> Any:
    """The same box with its axes reversed (array order <-> SimpleITK order)."""
    from medtrust.active import Patch

    return Patch(p.image_id, p.start[::-1], p.size[::-1])


def _label_files(folder: Path) -> dict[str, Path]:
    from medtrust.active.patch import strip_ending

    if not folder.is_dir():
        raise DatasetError(f"no such labels folder: {folder}")
    out = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.name.endswith(LABEL_ENDINGS):
            out[strip_ending(f.name)] = f
    if not out:
        raise DatasetError(f"{folder} holds no label maps ({', '.join(LABEL_ENDINGS)})")
    return out


def _annotated(path: str | None) -> tuple[list[Any], Path | None]:
    from medtrust.active import read_round, read_rounds

    if path is None:
        return [], None
    p = Path(path)
    if p.is_dir():
        return read_rounds(p), p
    if p.is_file():
        return read_round(p), p.parent
    raise DatasetError(f"--annotated {p}: no such round file or folder")


def _build_pool(args: argparse.Namespace, show: bool) -> Any:
    from medtrust.active import Pool, probs_dir_source

    source = None
    shapes: dict[str, tuple[int, int, int]] = {}
    if args.probs:
        source, shapes = probs_dir_source(args.probs, check_sum=not args.no_sum_check)
    labels = None
    if args.labels:
        files = _label_files(Path(args.labels))
        # NIfTI label maps are read with nibabel; in SimpleITK order their axes are reversed.
        flip = args.axis_order == "sitk"

        def labels(image_id: str) -> Any:
            if image_id not in files:
                raise DatasetError(f"no label map for {image_id!r} in {args.labels}")
            lab = _load_label(files[image_id])
            nifti = files[image_id].name.endswith((".nii.gz", ".nii"))
            return lab.T if flip and nifti else lab

        if not shapes:
            shapes = {i: tuple(labels(i).shape) for i in files}  # type: ignore[misc]
    if not shapes:
        raise InvalidArgumentError("give --probs (uncertainty strategies) and/or --labels")
    ids = sorted(shapes)
    if args.images:
        wanted = [i.strip() for i in Path(args.images).read_text().split() if i.strip()]
        unknown = sorted(set(wanted) - set(ids))
        if unknown:
            raise DatasetError(f"--images lists ids without probabilities/labels: {unknown[:5]}")
        ids = sorted(wanted)
    if source is not None and show:
        source = _with_progress(source, len(ids))
    return Pool(tuple(ids), shapes, uncertainty=source, labels=labels)


def _with_progress(source: Callable[[str], Any], total: int) -> Callable[[str], Any]:
    from medtrust._io import progress_bar

    bar = progress_bar(total=total, desc="images", leave=False)

    def wrapped(image_id: str) -> Any:
        acc = source(image_id)
        if bar is not None:
            bar.update()
        return acc

    return wrapped


def _query(args: argparse.Namespace) -> int:
    from medtrust.active import get_strategy, round_file_name, write_round

    if len(args.patch_size) not in (1, 3) or len(args.stride) not in (1, 3):
        raise InvalidArgumentError("--patch-size and --stride take 1 or 3 integers (z y x)")
    config: dict[str, Any] = {
        "patch_size": tuple(args.patch_size) if len(args.patch_size) == 3 else args.patch_size[0],
        "stride": tuple(args.stride) if len(args.stride) == 3 else args.stride[0],
        "n_patch_per_image": args.n_patch_per_image,
    }
    for key in ("query_steps", "schedule", "beta"):
        value = getattr(args, key)
        if value is not None:
            config[key] = value
    strategy = get_strategy(args.strategy, **config)
    annotated, folder = _annotated(args.annotated)
    pool = _build_pool(args, progress_enabled(not args.no_progress))
    if args.axis_order == "sitk":  # the maps, sizes and patches are all in SimpleITK order
        annotated = [_reversed(p) for p in annotated]
    result = strategy.query(pool, annotated, size=args.size, round_index=args.round, seed=args.seed)
    if args.out:
        out = Path(args.out)
    else:
        out = (folder or Path.cwd()) / round_file_name(args.round + 1)
    cand = out.with_name(out.name.removesuffix(".json") + ".candidates.parquet")
    # The round file is what the next round reads: written last, so that it never exists
    # without its candidate log (each file is atomic; a killed run is simply rerun).
    atomic_write_parquet(cand, result.log.to_frame())
    if args.axis_order == "sitk":
        # write_round expects array (nibabel) order and stores SimpleITK order.
        write_round(out, [_reversed(p) for p in result.patches], file_ending=args.file_ending)
    else:
        result.write_round(out, file_ending=args.file_ending)
    print(json.dumps(result.log.to_dict()["quotas"], indent=1))
    for msg in result.log.messages:
        print(f"note: {msg}")
    print(f"wrote {out} ({len(result.patches)} patches) and {cand}")
    return 0


def _add_query(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser(
        "query",
        help="run a query strategy on saved softmax maps and write the round file",
        description=(
            "Run one active-learning query. --probs holds one sub-folder per ensemble member with "
            "<image>.npy/.npz [C, Z, Y, X] softmax maps, or <image>.npy/.npz files with "
            "[M, C, Z, Y, X]. Writes an nnActive-compatible loop_XXX.json."
        ),
    )
    q.add_argument("--probs", help="folder of softmax maps (uncertainty strategies)")
    q.add_argument("--labels", help="folder of label maps (random_fg*, *_all_classes baselines)")
    q.add_argument(
        "--annotated", help="round file or folder of loop_XXX.json files annotated so far"
    )
    q.add_argument("--images", help="text file of pool image ids (default: all found)")
    q.add_argument("--strategy", required=True, help="registry name, e.g. clasp_pe")
    q.add_argument("--size", type=int, required=True, help="query size (patches)")
    q.add_argument("--round", type=int, default=0, help="0-based query round k (default 0)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--patch-size", type=int, nargs="+", required=True, metavar="N")
    q.add_argument("--stride", type=int, nargs="+", default=[1], metavar="N")
    q.add_argument("--n-patch-per-image", type=int, default=20)
    q.add_argument("--query-steps", type=int, help="training rounds (ClaSP schedules)")
    q.add_argument("--schedule", choices=["exp", "smooth", "sharp", "constant", "none"])
    q.add_argument("--beta", type=float, help="power-sampling beta (power_*, constant schedule)")
    q.add_argument(
        "--axis-order",
        choices=["array", "sitk"],
        default="array",
        help=(
            "axis order of --probs maps, --patch-size and --stride: 'array' (default: as "
            "nibabel / medtrust.io read NIfTI) or 'sitk' (SimpleITK / nnU-Net, e.g. nnU-Net's "
            "saved probabilities); round files are always written in SimpleITK order"
        ),
    )
    q.add_argument("--no-sum-check", action="store_true", help="accept non-softmax outputs")
    q.add_argument("--file-ending", default=".nii.gz", help="label file ending in round files")
    q.add_argument("--out", help="round file to write (default: <annotated>/loop_{round+1}.json)")
    q.add_argument("--no-progress", action="store_true", help="no progress bars")
    q.set_defaults(func=_query)


#: Functions adding one ``medtrust al`` subcommand each.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_query,
    add_loop_commands,
    add_benchmark_command,
]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``medtrust al ...``."""
    p = sub.add_parser(
        "al",
        help="active learning for 3D segmentation: query strategies, AL loops (run, grid on "
        "local workers or Ray), reports and the synthetic benchmark",
    )
    s = p.add_subparsers(dest="al_command", required=True)
    for add in SUBCOMMANDS:
        add(s)
