"""Entry point of the ``medtrust`` command.

Each job registers its subcommands from its own module (``register(subparsers)``), so adding a
job is one line in :data:`COMMAND_MODULES`.

Examples
--------
>>> from medtrust.cli.main import build_parser
>>> build_parser().prog
'medtrust'
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from medtrust.exceptions import InternalError, MedtrustError

#: Modules that each define ``register(subparsers)``; their parsers set ``func(args) -> int``.
COMMAND_MODULES: list[str] = [
    "medtrust.cli.demo",
    "medtrust.cli.selective",
    "medtrust.cli.failure",
    "medtrust.cli.segmentation",
    "medtrust.cli.vqa",
    "medtrust.cli.active",
    "medtrust.cli.dataset",
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every job's subcommands."""
    from medtrust import __version__

    parser = argparse.ArgumentParser(
        prog="medtrust", description="How far to trust a medical-imaging model."
    )
    parser.add_argument("--version", action="version", version=f"medtrust {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    from medtrust.cli.help import polish

    return polish(parser)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code.

    2 for invalid input or a file that cannot be read or written (one line on stderr, no
    traceback), 1 for an internal error, 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except MedtrustError as e:
        return _fail(str(e))
    except OSError as e:  # unwritable or invalid --out, a vanished input, a full disk
        what = f"{e.strerror}: {e.filename}" if e.strerror and e.filename else str(e)
        return _fail(f"cannot read or write a file ({what})")
    except InternalError as e:
        return _fail(f"internal error (please report it): {e}", code=1)
    except KeyboardInterrupt:
        return _fail("interrupted", code=130)


def _fail(message: str, code: int = 2) -> int:
    """One line on stderr, no traceback: user errors are not bugs."""
    one_line = "; ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"medtrust: error: {one_line}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
