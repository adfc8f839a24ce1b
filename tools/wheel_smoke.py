"""Smoke test of an installed medtrust wheel, run inside a clean venv by tools/wheel_check.py.

Run it with the venv's interpreter from a folder outside the repository (so the installed
package, not ``python/medtrust``, is imported). It checks, against hand-computed values:

- the import (the abi3 extension, and no optional package pulled in by ``import medtrust``);
- one metric of each job that needs no extra (selective, segmentation, uncertainty, failure,
  VQA, active learning) and the polars plugin;
- the CLI: ``--help``, a user error (exit 2, one line, no traceback), a corrupt Parquet file;
- with ``--lean`` (only the core dependencies installed): a plot and an image read fail with
  the ``pip install 'medtrust[...]'`` error, ``al validate`` names the missing torch, and
  ``medtrust demo --quick`` skips the steps whose extra is missing and still writes
  ``summary.md``.

Exit status 0 when every check passes; each check prints one ``ok`` line.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from pathlib import Path

OPTIONAL = ("matplotlib", "nibabel", "SimpleITK", "yaml", "tqdm", "torch")


def check(name: str, cond: bool, detail: object = "") -> None:
    """Print ``ok NAME`` or raise with the detail."""
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    print(f"ok  {name}")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed ``medtrust`` console script next to this interpreter."""
    exe = Path(sys.executable).with_name("medtrust")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def check_import() -> None:
    import medtrust
    import medtrust._native as native

    site = Path(sys.prefix).resolve()  # the clean venv, not the repository's python/
    where = Path(medtrust.__file__).resolve()
    check("installed package imported", site in where.parents, where)
    check("abi3 extension", Path(native.__file__).name == "_native.abi3.so", native.__file__)
    pulled = [m for m in OPTIONAL if m in sys.modules]
    check("import medtrust pulls in no optional package", not pulled, pulled)


def check_metrics() -> None:
    import numpy as np

    import medtrust.active as al
    import medtrust.failure as failure
    import medtrust.segmentation as seg
    import medtrust.selective as sel
    import medtrust.vqa as vqa
    from medtrust.uncertainty import EnsembleAccumulator

    # Selective: the README's example, by hand (tie group accepted together, trapezoid rule).
    conf, res = [0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1]
    check("selective.aurc", math.isclose(sel.aurc(conf, res), 0.1875), sel.aurc(conf, res))
    check("selective.augrc", math.isclose(sel.augrc(conf, res), 0.15625))
    # Segmentation: |A|=4, |B|=6, |A and B|=4 -> Dice = 8/10.
    a = np.zeros((4, 4), np.uint8)
    a[1:3, 1:3] = 1
    b = np.zeros_like(a)
    b[1:4, 1:3] = 1
    check("segmentation.dice", math.isclose(seg.dice(a, b).value, 0.8), seg.dice(a, b).value)
    # Uncertainty: two members [0.5, 0.5] and [1, 0] -> mean [0.75, 0.25].
    acc = EnsembleAccumulator()
    acc.add(np.array([[0.5], [0.5]], np.float32))
    acc.add(np.array([[1.0], [0.0]], np.float32))
    pe = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    got = float(np.asarray(acc.predictive_entropy()).ravel()[0])
    check("uncertainty.predictive_entropy", math.isclose(got, pe, rel_tol=1e-5), got)
    # Failure: the mean of a confidence map over the image.
    cmap = np.array([[0.2, 0.4], [0.6, 0.8]])
    got = failure.aggregate(cmap, np.ones((2, 2), np.uint8), aggregations=["mean"])["mean"]
    check("failure.aggregate mean", math.isclose(got, 0.5), got)
    # VQA: exact match after normalisation; token F1 of {left, lung} vs {left}: 2/3.
    s = vqa.token_scores("The left lung.", "left")
    check("vqa.token_scores", s["exact_match"] == 0.0 and math.isclose(s["token_f1"], 2 / 3), s)
    # Active learning: AUBC of a learning curve, trapezoid over equal steps.
    got = al.aubc([0.2, 0.4, 0.6])
    check("active.aubc", math.isclose(got, (0.1 + 0.4 + 0.3) / 2), got)


def check_polars_plugin() -> None:
    import polars as pl

    import medtrust.polars as mt
    import medtrust.selective as sel

    df = pl.DataFrame(
        {
            "g": [0, 0, 0, 0, 1, 1],
            "conf": [0.9, 0.8, 0.8, 0.3, 0.5, 0.4],
            "failed": [0, 1, 0, 1, 0, 1],
        }
    )
    out = mt.collect(df.lazy().group_by("g").agg(mt.aurc("conf", "failed")).sort("g"))
    want = [sel.aurc([0.9, 0.8, 0.8, 0.3], [0, 1, 0, 1]), sel.aurc([0.5, 0.4], [0, 1])]
    check("polars plugin aurc per group", out["aurc"].to_list() == want, out)


def check_cli(tmp: Path) -> None:
    r = cli("--help", cwd=tmp)
    check("medtrust --help", r.returncode == 0 and "usage: medtrust" in r.stdout, r.stderr)
    r = cli("selective", "evaluate", "missing.parquet", "--confid", "c", "--residual", "r", cwd=tmp)
    one = r.stderr.strip().splitlines()
    check("user error exits 2 with one line", r.returncode == 2 and len(one) == 1, r.stderr)
    (tmp / "corrupt.parquet").write_bytes(b"PAR1 this is not parquet")
    r = cli("selective", "evaluate", "corrupt.parquet", "--confid", "c", "--residual", "r", cwd=tmp)
    ok = (
        r.returncode == 2
        and "Traceback" not in r.stderr
        and len(r.stderr.strip().splitlines()) == 1
    )
    check("corrupt Parquet exits 2 with one line", ok, r.stderr)


def check_lean(tmp: Path) -> None:
    import numpy as np

    import medtrust.selective as sel
    from medtrust.exceptions import MedtrustError, MissingExtraError
    from medtrust.io import load_nifti

    installed = [m for m in OPTIONAL if _importable(m)]
    check("clean venv has no optional package", not installed, installed)
    try:
        sel.plot_risk_coverage({"msr": [0.9, 0.1]}, [0, 1])
    except MissingExtraError as e:
        check("plot without [plot] names the extra", "pip install 'medtrust[plot]'" in str(e), e)
        check("MissingExtraError is a MedtrustError", isinstance(e, MedtrustError))
    else:
        raise AssertionError("plot_risk_coverage worked without matplotlib")
    path = tmp / "img.nii.gz"
    path.write_bytes(b"")
    try:
        load_nifti(path)
    except MissingExtraError as e:
        check("image read without [io] names the extra", "pip install 'medtrust[io]'" in str(e), e)
    else:
        raise AssertionError("load_nifti worked without nibabel / SimpleITK")
    del np

    cfg = tmp / "experiment.toml"
    cfg.write_text(
        'strategies = ["random"]\nstarting_budget = "random"\npatch_size = [4, 4, 4]\n'
        "query_size = 2\nrounds = 2\nseeds = [0]\nensemble_size = 1\n"
        '[dataset.synthetic]\nn_cases = 8\n[trainer]\nbackend = "unet"\n'
    )
    r = cli("al", "validate", str(cfg), cwd=tmp)
    msg = r.stderr.strip()
    ok = (
        r.returncode == 2 and "torch" in msg and "medtrust[torch]" in msg and "Traceback" not in msg
    )
    check("al validate names the missing torch (exit 2)", ok, (r.returncode, r.stdout, msg))
    r = cli("al", "run", str(cfg), "--no-progress", cwd=tmp)
    ok = r.returncode == 2 and "Traceback" not in r.stderr
    check("al run without torch: exit 2, no traceback", ok, (r.returncode, r.stderr[-2000:]))

    out = tmp / "demo"
    r = cli("demo", "--quick", "--no-progress", "--out", str(out), cwd=tmp)
    summary = (out / "summary.md").read_text() if (out / "summary.md").exists() else ""
    ok = r.returncode == 0 and "Traceback" not in r.stderr and "skipped" in summary
    check("demo skips steps whose extra is missing", ok, (r.returncode, r.stderr[-2000:]))
    check("demo still runs the core step", (out / "active").is_dir(), sorted(out.iterdir()))
    skips = [ln for ln in summary.splitlines() if ln.startswith("_skipped")]
    check(
        "one skip line per skipped step",
        len(skips) == 4 and all("pip install" in s for s in skips),
        skips,
    )


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main(argv: list[str] | None = None) -> int:
    """Run every check; ``--lean`` adds the checks of a core-only install."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lean", action="store_true", help="only the core dependencies installed")
    args = ap.parse_args(argv)
    print(f"python {sys.version.split()[0]} at {sys.executable}")
    check_import()
    check_metrics()
    check_polars_plugin()
    with tempfile.TemporaryDirectory() as tmp:
        check_cli(Path(tmp))
        if args.lean:
            check_lean(Path(tmp))
    print("wheel smoke: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
