"""``--engine``, ``--address``, ``--workers``: the options of the commands that can run on Ray."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_engine_arguments", "engine_options"]


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--engine``, ``--address`` and ``--workers`` as options of :mod:`medtrust.engine`."""
    from medtrust.exceptions import InvalidArgumentError

    if args.engine == "ray":
        if args.workers != 1:
            raise InvalidArgumentError("--workers applies to --engine local; Ray sizes itself")
        return {"engine": "ray", "address": args.address}
    if args.address is not None:
        raise InvalidArgumentError("--address applies to --engine ray")
    return {"engine": "local", "workers": args.workers}


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """The engine options shared by the commands that can run on a cluster."""
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="where the work runs: this machine (default) or a Ray cluster",
    )
    p.add_argument(
        "--address",
        help="Ray cluster: 'auto' (the cluster of this machine), 'ray://HOST:10001' or "
        "'HOST:6379'; default: a private local Ray instance",
    )
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
