"""``medtrust segmentation evaluate``: a folder of predictions against a folder of references."""

from __future__ import annotations

import argparse
from pathlib import Path

from medtrust._io import progress_enabled
from medtrust.cli.help import EXAMPLES, add_no_progress, epilog


def _classes(text: str | None) -> list[int | tuple[int, ...]] | None:
    """``"1,2,(1,2)"`` -> ``[1, 2, (1, 2)]`` (labels and nnU-Net regions)."""
    from medtrust.exceptions import InvalidArgumentError

    if text is None:
        return None
    out: list[int | tuple[int, ...]] = []
    depth, cur = 0, ""
    for ch in text + ",":
        if ch == "," and depth == 0:
            item = cur.strip()
            cur = ""
            if not item:
                continue
            try:
                if item.startswith("("):
                    out.append(tuple(int(x) for x in item.strip("()").split(",") if x.strip()))
                else:
                    out.append(int(item))
            except ValueError as e:
                raise InvalidArgumentError(
                    f"--classes: {item!r} is not a label or a region like (1,2)"
                ) from e
        else:
            depth += ch == "("
            depth -= ch == ")"
            cur += ch
    return out


def _evaluate(args: argparse.Namespace) -> int:
    import polars as pl

    from medtrust.segmentation import evaluate_folder, write_evaluation
    from medtrust.segmentation.evaluate_folder import parse_metrics

    metrics = parse_metrics(args.metrics)
    spacing = [float(x) for x in args.spacing.split(",")] if args.spacing else None
    table = evaluate_folder(
        args.pred,
        args.labels,
        metrics=metrics,
        classes=_classes(args.classes),
        ignore_label=args.ignore_label,
        spacing_from_files=args.spacing_from_files,
        spacing=spacing,
        allow_missing=args.allow_missing,
        workers=args.workers,
        progress=progress_enabled(False if args.no_progress else None),
    )
    config = {k: v for k, v in vars(args).items() if k != "func"}
    paths = write_evaluation(table, Path(args.out), config=config)
    cols = [c for c in ("dice", "iou", *metrics) if c in table.columns]
    means = table.group_by("class", maintain_order=True).agg(
        pl.len().alias("cases"), *(pl.col(c).fill_nan(None).mean() for c in dict.fromkeys(cols))
    )
    with pl.Config(tbl_rows=50, tbl_cols=12, float_precision=4):
        print(means)
    print(f"{table['case'].n_unique()} cases; results written to {paths[0].parent.resolve()}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``medtrust segmentation ...``."""
    p = sub.add_parser("segmentation", help="segmentation quality of a folder of predictions")
    s = p.add_subparsers(dest="segmentation_command", required=True)
    e = s.add_parser(
        "evaluate",
        help="Dice, IoU, counts, surface metrics of PRED/<case>.nii.gz vs LABELS/<case>.nii.gz",
        description="nnU-Net's nnUNetv2_evaluate_folder counterpart: writes OUT/metrics.parquet "
        "(one row per case and class) and OUT/summary.json (nnU-Net's structure plus per-class "
        "counts of NaN / empty cases).",
        epilog=epilog(EXAMPLES["segmentation evaluate"]),
    )
    e.add_argument("--pred", required=True, help="folder of predicted label maps (required)")
    e.add_argument("--labels", required=True, help="folder of reference label maps (required)")
    e.add_argument("--out", default="segmentation_eval", help="output folder")
    e.add_argument(
        "--metrics",
        default="dice,iou",
        help="comma-separated: dice, iou, hd, hd95, assd, nsd@T (T in mm) (default: dice,iou)",
    )
    e.add_argument(
        "--classes",
        help="labels and regions, e.g. '1,2,(1,2)' (default: every foreground label found)",
    )
    e.add_argument(
        "--ignore-label", type=int, help="reference label counted nowhere (default: none)"
    )
    e.add_argument(
        "--spacing-from-files",
        action="store_true",
        help="surface metrics: voxel spacing from the file headers",
    )
    e.add_argument("--spacing", help="surface metrics: spacing in mm per array axis, e.g. 1,1,3")
    e.add_argument(
        "--allow-missing",
        action="store_true",
        help="evaluate the predictions present when references lack one (nnU-Net's --chill)",
    )
    e.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    add_no_progress(e)
    e.set_defaults(func=_evaluate)
