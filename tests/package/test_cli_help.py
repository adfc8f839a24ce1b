"""Every ``--help`` shows defaults and an example; one spelling of --pred, --labels, --out."""

import argparse
import contextlib
import io

import pytest

from medtrust.cli.help import EXAMPLES, walk
from medtrust.cli.main import build_parser, main

PARSER = build_parser()
COMMANDS = [
    (path, p)
    for path, p in walk(PARSER)
    if path and not any(isinstance(a, argparse._SubParsersAction) for a in p._actions)
]
#: Commands that run long enough to want a progress bar (and so --no-progress).
LONG = {
    "demo",
    "failure evaluate",
    "segmentation evaluate",
    "vqa evaluate",
    "vqa infer",
    "vqa finetune",
    "al query",
    "al run",
    "al grid",
    "al benchmark",
    "dataset verify",
}


def _help(p):
    return p.format_help()


@pytest.mark.parametrize("path,parser", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_an_example_and_shows_its_defaults(path, parser):
    text = _help(parser)
    key = " ".join(path)
    assert "Example:" in text, key
    example = text.split("Example:")[1].strip().splitlines()[0].strip()
    assert example.startswith(f"medtrust {key}"), example
    # the example parses (required arguments present, option names right)
    args = example.split()[1:]
    with contextlib.redirect_stderr(io.StringIO()):
        ns = PARSER.parse_args(args)
    assert callable(ns.func)
    for a in parser._actions:
        if not a.option_strings or a.help == argparse.SUPPRESS:
            continue
        d = a.default
        if d is None or d is False or d is argparse.SUPPRESS or isinstance(a, argparse._HelpAction):
            continue
        assert (a.help or "").strip(), f"{key} {a.option_strings[0]}: no help line"
        line = " ".join(parser._get_formatter()._expand_help(a).split())
        assert "default" in line, f"{key} {a.option_strings[0]}: default {d!r} not shown"


def test_examples_cover_exactly_the_commands():
    assert set(EXAMPLES) == {" ".join(p) for p, _ in COMMANDS}


@pytest.mark.parametrize("key", sorted(LONG))
def test_long_commands_have_no_progress(key):
    parser = dict((" ".join(p), q) for p, q in COMMANDS)[key]
    assert "--no-progress" in {o for a in parser._actions for o in a.option_strings}


def test_one_spelling_of_pred_labels_out():
    for path, parser in COMMANDS:
        opts = {o for a in parser._actions if a.help != argparse.SUPPRESS for o in a.option_strings}
        assert not opts & {"--preds", "--prediction", "--predictions", "--label", "--output"}, path
        out = [a for a in parser._actions if "--out" in a.option_strings]
        # --out is never required: a default is stated in the help
        for a in out:
            assert not a.required, path
            assert "default" in " ".join(parser._get_formatter()._expand_help(a).split()), path


def test_deprecated_preds_alias_still_works(capsys):
    ns = PARSER.parse_args(["vqa", "evaluate", "--preds", "a.jsonl", "--shift", "s"])
    assert ns.preds == ["a.jsonl"]
    assert "--preds is deprecated; use --pred" in capsys.readouterr().err
    ns = PARSER.parse_args(["vqa", "evaluate", "--pred", "a", "--pred", "b", "--shift", "s"])
    assert ns.preds == ["a", "b"]
    assert main(["vqa", "evaluate", "--shift", "s"]) == 2
    assert "--pred is required" in capsys.readouterr().err
