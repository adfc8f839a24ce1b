"""One look for every ``--help``: defaults shown, one example per command, ``--no-progress``.

:func:`polish` walks the finished parser: every command gets :class:`HelpFormatter` (appends
``(default: X)`` to an option whose help does not state it) and, unless it has its own, the
example of :data:`EXAMPLES` as its epilog. ``tests/package/test_cli_help.py`` walks every
subcommand and fails when one lacks an example or hides a default.

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(prog="x", formatter_class=HelpFormatter)
>>> _ = p.add_argument("--n", type=int, default=3, help="how many")
>>> "how many (default: 3)" in p.format_help()
True
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = [
    "EXAMPLES",
    "HelpFormatter",
    "add_deprecated_alias",
    "add_no_progress",
    "epilog",
    "polish",
    "walk",
]

#: One example command line per subcommand (key: the words after ``medtrust``).
EXAMPLES: dict[str, str] = {
    "demo": "medtrust demo --out demo_output --quick",
    "selective evaluate": "medtrust selective evaluate scores.parquet --confid msr "
    "--confid entropy --residual error --ci --out selective.parquet",
    "failure evaluate": "medtrust failure evaluate --pred preds/ --labels labels/ "
    "--domains domains.json --risk dice --out failure_eval/",
    "segmentation evaluate": "medtrust segmentation evaluate --pred preds/ --labels labelsTr/ "
    "--metrics dice,hd95,nsd@2 --spacing-from-files --out eval/",
    "vqa evaluate": "medtrust vqa evaluate --data slake/ --pred predictions.jsonl "
    "--shift slake_modality --no-judge --out vqa_eval/",
    "vqa robustness": "medtrust vqa robustness vqa_eval/ --metric accuracy --out rr.parquet",
    "vqa shifts": "medtrust vqa shifts",
    "vqa infer": "medtrust vqa infer --data slake/ --config infer.yaml --shift slake_modality "
    "--out predictions.jsonl",
    "vqa finetune": "medtrust vqa finetune --data slake/ --config finetune.yaml "
    "--shift slake_modality",
    "vqa agreement": "medtrust vqa agreement ratings.csv --human human_score --out agreement.json",
    "al query": "medtrust al query --probs probs/ --strategy clasp_pe --size 20 "
    "--patch-size 32 32 32 --out loop_001.json",
    "al run": "medtrust al run experiment.toml --out al_runs/",
    "al grid": "medtrust al grid grid.toml --out al_grid/ --workers 2",
    "al validate": "medtrust al validate experiment.toml",
    "al report": "medtrust al report al_grid/ --out al_report/",
    "al benchmark": "medtrust al benchmark --smoke --out al_bench/",
    "dataset verify": "medtrust dataset verify Dataset001_Liver/",
}


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` where an option's help lacks it; keeps the example's lines.

    Options without a default (``None``), flags (``False``) and help texts that already say
    "default" are left as they are.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("Example:"):  # the command line stays one line, to copy and paste
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        d = action.default
        if "default" in text or not _shows_default(d) or not action.option_strings:
            return text
        shown = ",".join(map(str, d)) if isinstance(d, (list, tuple)) else d
        return f"{text} (default: {shown})".strip()


def _shows_default(d: Any) -> bool:
    return d is not None and d is not False and d is not argparse.SUPPRESS


def epilog(example: str) -> str:
    """The epilog of a command: ``Example:`` and the command line, indented.

    Parameters
    ----------
    example
        One command line.

    Returns
    -------
    str

    Examples
    --------
    >>> print(epilog("medtrust demo"))
    Example:
      medtrust demo
    """
    return f"Example:\n  {example}"


def add_no_progress(p: argparse.ArgumentParser) -> None:
    """Add ``--no-progress`` (every long-running command has it).

    Parameters
    ----------
    p
        The command's parser.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_no_progress(p)
    >>> p.parse_args(["--no-progress"]).no_progress
    True
    """
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (also MEDTRUST_NO_PROGRESS=1; off anyway when not a terminal)",
    )


class _DeprecatedAlias(argparse.Action):
    """Stores like the new option, after one line on stderr naming the new spelling."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", append: bool = False,
                 **kwargs: Any) -> None:  # fmt: skip
        self.new, self.append = new, append
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        import sys

        print(f"medtrust: warning: {option} is deprecated; use {self.new}", file=sys.stderr)
        if self.append:
            items = list(getattr(namespace, self.dest, None) or [])
            setattr(namespace, self.dest, [*items, values])
        else:
            setattr(namespace, self.dest, values)


def add_deprecated_alias(
    p: argparse.ArgumentParser, old: str, new: str, dest: str, *, append: bool = False
) -> None:
    """Keep an old option spelling working (hidden from ``--help``, warns on use).

    Parameters
    ----------
    p
        The command's parser.
    old, new
        The old and the current option strings (``"--preds"``, ``"--pred"``).
    dest
        The attribute the current option stores into.
    append
        The current option is ``action="append"``.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--pred", dest="pred")
    >>> add_deprecated_alias(p, "--preds", "--pred", "pred")
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     ns = p.parse_args(["--preds", "x"])
    >>> ns.pred, "deprecated" in err.getvalue()
    ('x', True)
    """
    p.add_argument(
        old, dest=dest, action=_DeprecatedAlias, new=new, append=append, help=argparse.SUPPRESS
    )


def _leaves(p: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    yield path, p
    for s in subs:
        for name, sp in s.choices.items():
            yield from _leaves(sp, (*path, name))


def polish(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give every (sub)command :class:`HelpFormatter` and its example from :data:`EXAMPLES`.

    Parameters
    ----------
    parser
        The full ``medtrust`` parser, after every job registered its commands.

    Returns
    -------
    argparse.ArgumentParser
        ``parser`` itself.

    Examples
    --------
    >>> p = argparse.ArgumentParser(prog="medtrust")
    >>> s = p.add_subparsers()
    >>> _ = s.add_parser("demo")
    >>> "Example:" in s.choices["demo"].format_help() or polish(p) is p
    True
    >>> "medtrust demo --out" in s.choices["demo"].format_help()
    True
    """
    for path, p in _leaves(parser):
        p.formatter_class = HelpFormatter
        for a in p._actions:
            # argparse prints no help line (so no default) for an option without help text.
            if a.option_strings and not (a.help or "").strip() and _shows_default(a.default):
                a.help = "(default: %(default)s)"
        key = " ".join(path)
        if not p.epilog and key in EXAMPLES:
            p.epilog = epilog(EXAMPLES[key])
    return parser


def walk(parser: argparse.ArgumentParser):
    """Every (command words, parser) pair under ``parser``, the root first (for the tests).

    Parameters
    ----------
    parser
        A parser with subcommands.

    Returns
    -------
    iterator of (tuple of str, argparse.ArgumentParser)

    Examples
    --------
    >>> from medtrust.cli.main import build_parser
    >>> ("demo",) in [path for path, _ in walk(build_parser())]
    True
    """
    return _leaves(parser)
