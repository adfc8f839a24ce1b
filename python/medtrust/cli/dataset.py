"""``medtrust dataset verify DIR``: check an nnU-Net v2 raw dataset."""

from __future__ import annotations

import argparse

from medtrust._io import progress_enabled
from medtrust.cli.help import add_no_progress


def _verify(args: argparse.Namespace) -> int:
    from medtrust.io.nnunet import load_nnunet_dataset, verify_nnunet_dataset

    if args.layout_only:
        ds = load_nnunet_dataset(args.dir)
    else:
        ds = verify_nnunet_dataset(
            args.dir, progress=progress_enabled(False if args.no_progress else None)
        )
    labels = ", ".join(f"{k}={v}" for k, v in ds.labels.items())
    ign = f", ignore={ds.ignore_label}" if ds.ignore_label is not None else ""
    print(f"{ds.root}: OK, {len(ds.cases)} cases, {ds.n_channels} channel(s), labels {labels}{ign}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``medtrust dataset verify``."""
    p = sub.add_parser("dataset", help="nnU-Net v2 raw datasets")
    s = p.add_subparsers(dest="dataset_command", required=True)
    v = s.add_parser("verify", help="check layout, dataset.json and (by default) every file")
    v.add_argument("dir", help="dataset folder (DatasetXXX_Name)")
    v.add_argument("--layout-only", action="store_true", help="do not read the images")
    add_no_progress(v)
    v.set_defaults(func=_verify)
