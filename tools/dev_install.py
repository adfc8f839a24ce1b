"""Install the in-tree package editable from the release wheel: one Rust build for both.

``make install`` builds the abi3 manylinux2014 wheel once (``maturin build``) and this script
turns it into a development install, as ``maturin develop`` would but without compiling again:

1. the wheel's ``medtrust/_native.abi3.so`` is copied into ``python/medtrust/`` (stale
   ``_native.cpython-*.so`` files from earlier ``maturin develop`` runs are removed: CPython
   prefers them over ``.abi3.so``, so a stale one would shadow the new build);
2. a small editable wheel (the same ``.dist-info`` metadata and console script, plus a ``.pth``
   file that puts ``python/`` on ``sys.path``) is installed into the venv with uv, so edits to
   the Python sources need no reinstall and ``.venv/bin/medtrust`` keeps working.

The same wheel is then what ``tools/wheel_check.py`` installs into clean venvs.

Usage: ``python tools/dev_install.py dist/medtrust-*.whl [--python .venv/bin/python]``
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "python" / "medtrust"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def extract_native(wheel: Path) -> Path:
    """Copy the wheel's extension into ``python/medtrust``; returns its path."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.startswith("medtrust/_native") and n.endswith(".so")]
        if len(names) != 1:
            raise SystemExit(f"{wheel}: expected one medtrust/_native*.so, found {names}")
        target = PKG / Path(names[0]).name
        tmp = target.with_name(f".{target.name}.tmp")
        with zf.open(names[0]) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.chmod(0o755)
        tmp.replace(target)  # atomic: a running interpreter keeps the old mapping
    for stale in PKG.glob("_native*.so"):
        if stale != target:
            stale.unlink()
    return target


def editable_wheel(wheel: Path, folder: Path) -> Path:
    """An editable twin of ``wheel``: its dist-info plus a .pth to ``python/``."""
    out = folder / wheel.name
    with zipfile.ZipFile(wheel) as zf, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        dist_info = next(n.split("/")[0] for n in zf.namelist() if ".dist-info/" in n)
        files: dict[str, bytes] = {"medtrust_editable.pth": f"{PKG.parent}\n".encode()}
        for name in zf.namelist():
            if name.startswith(dist_info + "/") and not name.endswith("/RECORD"):
                files[name] = zf.read(name)
        record = [_record_line(n, d) for n, d in files.items()] + [f"{dist_info}/RECORD,,"]
        files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
        for name, data in files.items():
            dst.writestr(name, data)
    return out


def main(argv: list[str] | None = None) -> int:
    """Extract the extension and install the editable twin of the wheel."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path)
    ap.add_argument("--python", default=sys.executable, help="interpreter of the target venv")
    args = ap.parse_args(argv)
    native = extract_native(args.wheel)
    uv = shutil.which("uv", path=str(Path(args.python).parent)) or "uv"
    with tempfile.TemporaryDirectory() as tmp:
        twin = editable_wheel(args.wheel, Path(tmp))
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                args.python,
                "--no-deps",
                "--reinstall",
                str(twin),
            ],
            check=True,
        )
    print(f"installed medtrust editable from {args.wheel.name} ({native.name} in {PKG})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
