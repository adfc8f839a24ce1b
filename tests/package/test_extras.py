"""Optional dependencies (issue 16): one helper imports them and names the extra to install;
a missing one fails clearly at the call that needs it, the demo skips the step that needs it,
and ``al validate`` checks the trainer backend's imports."""

import ast
import sys
import types
from pathlib import Path

import pytest

from medtrust._extras import EXTRAS, available, require
from medtrust.cli import demo
from medtrust.cli.main import main
from medtrust.exceptions import MedtrustError, MissingExtraError

PKG = Path(__file__).resolve().parents[2] / "python" / "medtrust"
# Moved out of the core dependencies by issue 16: imported only after require() (or probed).
MOVED = {"matplotlib", "nibabel", "SimpleITK", "yaml", "tqdm"}
TOML_UNET = (
    'strategies = ["random"]\nstarting_budget = "random"\npatch_size = [4, 4, 4]\n'
    "query_size = 2\nrounds = 2\nseeds = [0]\nensemble_size = 1\n"
    '[dataset.synthetic]\nn_cases = 8\n[trainer]\nbackend = "unet"\n'
)


def _pretend_missing(monkeypatch, *modules):
    for m in modules:  # None in sys.modules: `import m` raises ModuleNotFoundError(name=m)
        for name in [k for k in sys.modules if k == m or k.startswith(m + ".")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, m, None)


def test_require_names_the_extra_and_the_caller(monkeypatch):
    _pretend_missing(monkeypatch, "matplotlib")

    def plot_something():
        require("matplotlib.pyplot", "plot")

    with pytest.raises(MissingExtraError) as info:
        plot_something()
    msg = str(info.value)
    assert "plot_something()" in msg and "'matplotlib'" in msg
    assert msg.endswith("pip install 'medtrust[plot]'")
    assert isinstance(info.value, MedtrustError) and isinstance(info.value, ImportError)
    # The extra defaults to the one EXTRAS lists; the PyPI name is the distribution's.
    _pretend_missing(monkeypatch, "yaml")
    with pytest.raises(MissingExtraError, match=r"'pyyaml'.*medtrust\[io\]"):
        require("yaml", purpose="YAML configs")
    assert not available("matplotlib") and available("numpy")


def test_require_keeps_a_broken_install_s_own_error():
    # numpy is installed: a missing submodule is not a missing extra.
    with pytest.raises(ModuleNotFoundError) as info:
        require("numpy.no_such_submodule", "core")
    assert not isinstance(info.value, MissingExtraError)
    assert require("numpy").__name__ == "numpy"


def test_every_extra_names_a_declared_extra():
    import tomllib

    pyproject = tomllib.loads((PKG.parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    core = " ".join(pyproject["project"]["dependencies"]).lower()
    for module, (dist, extra) in EXTRAS.items():
        assert extra in extras, (module, extra)
        assert any(d.lower().startswith(dist.lower()) for d in extras[extra]), (module, dist)
        assert dist.lower() not in core, f"{dist} is still a core dependency"


def _requires_before(fn: ast.AST) -> dict[str, int]:
    first: dict[str, int] = {}
    for node in ast.walk(fn):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "require"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            top = str(node.args[0].value).partition(".")[0]
            first[top] = min(first.get(top, 10**9), node.lineno)
    return first


def test_every_optional_import_goes_through_require():
    offenders = []
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # no module-level import of a moved package
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                offenders += [f"{path.name}: {n}" for n in names if n.partition(".")[0] in MOVED]
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            guarded = _requires_before(fn)
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                else:
                    continue
                for n in names:
                    top = n.partition(".")[0]
                    if top in MOVED and guarded.get(top, 10**9) > node.lineno:
                        # tqdm: the one import sits behind available("tqdm") in _io.progress_bar
                        if not (path.name == "_io.py" and top == "tqdm"):
                            offenders.append(f"{path.relative_to(PKG)}:{node.lineno}: {n}")
    assert offenders == []


def test_plot_and_image_read_without_their_extras(monkeypatch, tmp_path):
    import medtrust.selective as sel
    from medtrust.io import load_image, load_nifti

    _pretend_missing(monkeypatch, "matplotlib", "nibabel", "SimpleITK")
    with pytest.raises(MissingExtraError, match=r"plot_risk_coverage\(\).*medtrust\[plot\]"):
        sel.plot_risk_coverage({"msr": [0.9, 0.1]}, [0, 1])
    (tmp_path / "x.nii.gz").write_bytes(b"")
    with pytest.raises(MissingExtraError, match=r"'nibabel'.*medtrust\[io\]"):
        load_nifti(tmp_path / "x.nii.gz")
    (tmp_path / "x.nrrd").write_bytes(b"")
    with pytest.raises(MissingExtraError, match=r"'SimpleITK'.*medtrust\[io\]"):
        load_image(tmp_path / "x.nrrd")


def test_progress_bars_degrade_without_tqdm(monkeypatch):
    from medtrust import _io

    _pretend_missing(monkeypatch, "tqdm")
    assert _io.progress_enabled(True) is False
    assert _io.progress_bar(total=3, desc="x") is None
    assert list(_io.progress(range(3), desc="x", enabled=True)) == [0, 1, 2]


def test_al_validate_and_run_name_the_missing_torch(monkeypatch, tmp_path, capsys):
    cfg = tmp_path / "experiment.toml"
    cfg.write_text(TOML_UNET)
    _pretend_missing(monkeypatch, "torch")
    assert main(["al", "validate", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "trainer backend 'unet'" in err and "pip install 'medtrust[torch]'" in err
    assert main(["al", "run", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "medtrust[torch]" in capsys.readouterr().err
    assert not (tmp_path / "o" / "runs").exists()  # nothing started


def test_demo_skips_steps_whose_extra_is_missing(monkeypatch, tmp_path):
    missing = {"matplotlib", "torch"}
    monkeypatch.setattr(demo, "available", lambda m: m.partition(".")[0] not in missing)
    summary = demo.run_demo(tmp_path, quick=True, progress=False).read_text()
    skips = [ln for ln in summary.splitlines() if ln.startswith("_skipped")]
    assert len(skips) == 4, summary
    assert "_skipped medtrust.selective.demo: needs matplotlib (pip install 'medtrust[plot]')_" in (
        skips
    )
    assert any("needs torch, matplotlib (pip install 'medtrust[plot,torch]')" in s for s in skips)
    assert (tmp_path / "active").is_dir() and not (tmp_path / "selective").exists()


def test_demo_step_raising_missing_extra_is_one_line(monkeypatch, tmp_path):
    fake = types.ModuleType("medtrust_fake_step")

    def run(out, *, quick, progress):
        require("a_package_nobody_installed", "plot")

    fake.run = run
    monkeypatch.setitem(sys.modules, "medtrust_fake_step", fake)
    monkeypatch.setattr(demo, "DEMO_STEPS", ["medtrust_fake_step:run"])
    summary = demo.run_demo(tmp_path, quick=True).read_text()
    assert "_skipped medtrust_fake_step: " in summary and "medtrust[plot]" in summary
