"""Check the built wheel: its tag, glibc floor and stripping, then a clean-venv smoke test.

``make wheel-check`` (part of ``make test``) runs this on the wheel ``make install`` built:

1. audit: the file name carries ``cp310-abi3`` and ``manylinux_2_17``; the extension's
   dynamic symbols need no glibc newer than 2.17 (``objdump -T``), and it has no symbol table
   or debug sections (stripped);
2. for each ``--python`` interpreter: a fresh venv (``uv venv``) with the wheel and *only* the
   core dependencies, then ``tools/wheel_smoke.py --lean`` run from a folder outside the
   repository (see that script for the checks).

Usage: ``python tools/wheel_check.py dist/medtrust-*.whl [--base] [--python python3.10 ...]``
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GLIBC_FLOOR = (2, 17)


def audit(wheel: Path) -> None:
    """Tag, glibc floor and stripping of the wheel's extension (raises SystemExit if wrong)."""
    name = wheel.name
    if "-cp310-abi3-" not in name or "manylinux_2_17_x86_64" not in name:
        raise SystemExit(f"{name}: expected a cp310-abi3 manylinux_2_17 wheel")
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        so = next(n for n in zf.namelist() if n.endswith(".so"))
        path = Path(zf.extract(so, tmp))
        size = path.stat().st_size
        if shutil.which("objdump") is None:
            print("audit: objdump not found, glibc floor not checked")
            return
        dyn = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True)
        versions = {
            tuple(int(x) for x in m.groups())
            for m in re.finditer(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", dyn.stdout)
        }
        newest = max(versions) if versions else (0, 0)
        if newest > GLIBC_FLOOR:
            raise SystemExit(f"{so} needs GLIBC_{newest[0]}.{newest[1]} > 2.17")
        sections = subprocess.run(["objdump", "-h", str(path)], capture_output=True, text=True)
        unstripped = [s for s in (".symtab", ".debug_info") if f" {s} " in sections.stdout]
        if unstripped:
            raise SystemExit(f"{so} is not stripped: has {unstripped}")
    print(
        f"audit ok: {name} ({wheel.stat().st_size / 2**20:.1f} MiB wheel, {so} "
        f"{size / 2**20:.1f} MiB stripped, newest symbol GLIBC_{newest[0]}.{newest[1]})"
    )


def smoke(wheel: Path, python: str, folder: Path, uv: str) -> None:
    """A fresh venv for ``python`` with the wheel and its core dependencies; run the smoke."""
    t0 = time.perf_counter()
    version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    label = f"CPython {version} at {python}"
    venv = folder / f"venv-{version}-{hashlib.sha1(python.encode()).hexdigest()[:8]}"
    subprocess.run([uv, "venv", "-q", "--clear", "--python", python, str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "--python", str(py), str(wheel)], check=True)
    listed = subprocess.run(
        [uv, "pip", "list", "--python", str(py), "--format", "freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    print(
        f"clean venv ({label}): {len(listed)} packages, {size / 2**20:.0f} MiB: "
        + ", ".join(p.split("==")[0] for p in listed)
    )
    with tempfile.TemporaryDirectory() as cwd:  # outside the repository: the installed copy
        subprocess.run(
            [str(py), str(ROOT / "tools" / "wheel_smoke.py"), "--lean"], cwd=cwd, check=True
        )
    print(f"smoke ok on {label} in {time.perf_counter() - t0:.0f} s")


def main(argv: list[str] | None = None) -> int:
    """Audit the wheel, then smoke-test it in one clean venv per interpreter."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path)
    ap.add_argument("--python", action="append", default=[], help="interpreter (repeatable)")
    ap.add_argument(
        "--base", action="store_true", help="also the interpreter behind the running venv"
    )
    ap.add_argument("--venvs", type=Path, default=ROOT / ".whl", help="where the venvs go")
    ap.add_argument("--uv", default=shutil.which("uv", path=str(Path(sys.executable).parent)))
    args = ap.parse_args(argv)
    audit(args.wheel)
    args.venvs.mkdir(parents=True, exist_ok=True)
    failed = []
    # The interpreter behind the running venv (a clean venv, not this one): with --base or
    # when no --python is given.
    base = [getattr(sys, "_base_executable", sys.executable)]
    for python in (base if args.base or not args.python else []) + args.python:
        try:
            smoke(args.wheel, python, args.venvs, args.uv or "uv")
        except subprocess.CalledProcessError as e:
            print(f"FAILED on {python}: {e}", file=sys.stderr)
            failed.append(python)
    if failed:
        print(f"wheel check failed on {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
