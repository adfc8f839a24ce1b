"""Child process of ``test_bad_inputs.py``: runs table cases, one JSON line per case.

Reads ``[[id, code], ...]`` from the file named by argv[1] and runs the cases from index
argv[2] on. Before each case it prints ``{"start": id}`` so that the parent can tell which case
killed the process (an abort, a segfault) or hung; after it, the outcome. Kept free of pytest so
that a crash here is contained.
"""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from typing import Any

PRELUDE = r'''
import contextlib, io, json, math, pathlib, tempfile, time, warnings
import numpy as np, polars as pl
import medtrust
import medtrust.selective as sel
import medtrust.segmentation as seg
import medtrust.failure as fl
import medtrust.io as mio
import medtrust.active as al
import medtrust.vqa as vqa
from medtrust.uncertainty import EnsembleAccumulator, argmax_labels, pixel_confidence
from medtrust.cli.main import main as _cli_main

NAN = float("nan"); INF = float("inf")
TMP = pathlib.Path(tempfile.mkdtemp(prefix="mt_bad_"))
C = [0.9, 0.8, 0.3, 0.2]; R = [0, 1, 0, 1]; L = [0, 1, 1, 0]
A = np.zeros((8, 8, 8), np.uint8); A[2:6, 2:6, 2:6] = 1
B = np.zeros_like(A); B[2:6, 2:6, 3:7] = 1
SP = (1.0, 1.0, 1.0)
_rng = np.random.default_rng(0)
P = _rng.random((2, 4, 4, 4)).astype(np.float32); P /= P.sum(0, keepdims=True)
CONF = _rng.random((8, 8, 8))

def acc_with(n=2):
    a = EnsembleAccumulator()
    for _ in range(n):
        a.add(P)
    return a

# ---- files
def _nii(path, arr, spacing=SP):
    mio.save_nifti(path, arr, spacing=spacing)
    return path
GOOD_NII = _nii(TMP / "good.nii", A)
TRUNC_NII = TMP / "trunc.nii"; TRUNC_NII.write_bytes(GOOD_NII.read_bytes()[:400])
GARBAGE_NII = TMP / "garbage.nii.gz"; GARBAGE_NII.write_bytes(b"not a nifti at all")
np.save(TMP / "good.npy", P)
TRUNC_NPY = TMP / "trunc.npy"; TRUNC_NPY.write_bytes((TMP / "good.npy").read_bytes()[:150])
PICKLED_NPY = TMP / "pickled.npy"
np.save(PICKLED_NPY, np.array([{"a": 1}], dtype=object), allow_pickle=True)
np.savez(TMP / "two.npz", a=P, b=P)
TRUNC_NPZ = TMP / "trunc.npz"; TRUNC_NPZ.write_bytes((TMP / "two.npz").read_bytes()[:300])
CORRUPT_PARQUET = TMP / "corrupt.parquet"; CORRUPT_PARQUET.write_bytes(b"PAR1garbage")
TABLE = TMP / "table.parquet"
pl.DataFrame({"a": C, "b": [0.1, 0.5, 0.4, 0.2], "r": R, "big": [0, 2, 0, 1],
              "g": ["x", "x", "y", "y"]}).write_parquet(TABLE)
NAN_TABLE = TMP / "nan_table.csv"
pl.DataFrame({"a": [NAN, 0.7, 0.6, 0.2, 0.9, 0.1], "r": [1, 0, 0, 1, 0, 1]}).write_csv(NAN_TABLE)
DOMAINS = TMP / "domains.json"; DOMAINS.write_text(json.dumps({"c0": "iid"}))
NULL_DOMAINS = TMP / "null_domains.json"; NULL_DOMAINS.write_text(json.dumps({"c0": None}))
LATIN = TMP / "Dataset001_Latin"
mio.write_nnunet_case(LATIN, "c0", np.zeros((2, 3, 3), np.float32),
                      np.zeros((2, 3, 3), np.uint8), spacing=SP)
_meta = {"channel_names": {"0": "Röntgen"}, "labels": {"background": 0}, "numTraining": 1,
         "file_ending": ".nii.gz"}
(LATIN / "dataset.json").write_bytes(json.dumps(_meta, ensure_ascii=False).encode("latin-1"))
NOJSON = TMP / "Dataset002_NoJson"; NOJSON.mkdir()
PROBS_TRUNC = TMP / "probs_trunc"; PROBS_TRUNC.mkdir()
(PROBS_TRUNC / "img0.npy").write_bytes((TMP / "good.npy").read_bytes()[:150])
LABELS_TRUNC = TMP / "labels_trunc"; LABELS_TRUNC.mkdir()
(LABELS_TRUNC / "img0.npy").write_bytes((TMP / "good.npy").read_bytes()[:150])
A_FILE = TMP / "a_file"; A_FILE.write_text("x")
CASES = pl.DataFrame({"case": ["c0", "c1", "c2", "c3"], "domain": ["d", "d", "e", "e"],
                      "dice": [0.9, 0.5, 0.7, 0.2], "x": [0.8, 0.4, 0.9, 0.1]})
VQA_SAMPLES = pl.DataFrame([{"qid": str(i), "question": "q?", "answer": "yes" if i % 2 else "liver",
    "answer_type": "closed" if i % 2 else "open", "split": "test",
    "modality": "X-Ray" if i < 2 else "CT",
    "image_id": f"img{i}", "dataset": "toy"} for i in range(4)])
VQA_PREDS = pl.DataFrame({"qid": [str(i) for i in range(4)],
                          "pred": ["liver", "yes", "no", "yes"], "seed": 0})
VQA_SHIFT = {"name": "toy", "attribute": "modality", "ood_values": ["X-Ray"], "image_level": True}
VQA_DATA = TMP / "vqa.parquet"; VQA_SAMPLES.write_parquet(VQA_DATA)
VQA_PRED_FILE = TMP / "vqa_preds.parquet"; VQA_PREDS.write_parquet(VQA_PRED_FILE)
VQA_SHIFT_FILE = TMP / "shift.json"; VQA_SHIFT_FILE.write_text(json.dumps(VQA_SHIFT))

def cli(*argv):
    """Run the CLI in this process: (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = _cli_main([str(a) for a in argv])
        except SystemExit as e:  # argparse errors
            code = e.code
    return ("CLI", code, err.getvalue())
'''


def _describe(value: Any) -> dict[str, Any]:
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "CLI":
        return {"kind": "cli", "code": value[1], "stderr": value[2]}
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return {"kind": "value", "repr": text[:300]}


def main() -> None:
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    start = int(sys.argv[2])
    ns: dict[str, Any] = {}
    exec(PRELUDE, ns)
    warnings.simplefilter("ignore")
    out = sys.stdout
    for cid, code, check in cases[start:]:
        out.write(json.dumps({"start": cid}) + "\n")
        out.flush()
        rec: dict[str, Any] = {"id": cid}
        try:
            local = dict(ns)
            value = eval(code, local)
            rec.update(_describe(value))
            if check:
                local["r"] = value
                rec["check"] = bool(eval(check, local))
        except BaseException as e:
            rec.update(
                kind="raise",
                type=type(e).__name__,
                mro=[c.__module__ + "." + c.__name__ for c in type(e).__mro__],
                message=str(e)[:500],
                tb=traceback.format_exc()[-800:],
            )
        out.write(json.dumps(rec) + "\n")
        out.flush()
    out.write(json.dumps({"done": True}) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
