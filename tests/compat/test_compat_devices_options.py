"""Device round trips of the shims, and every peer option either honoured or named in an error."""

import inspect
import warnings

import numpy as np
import pytest
import torch

from medtrust import _native
from medtrust.compat import monai as mm
from medtrust.compat import torch_uncertainty as mtu
from medtrust.compat import torchmetrics as mt
from medtrust.compat._surface_batch import batch_distances
from medtrust.exceptions import DeviceError, ShapeMismatchError

CUDA = torch.cuda.is_available()


def _masks(rng, shape):
    return torch.from_numpy((rng.random(shape) < 0.4).astype(np.float32))


@pytest.mark.parametrize("allow", [False, True])
def test_meta_tensors_are_refused_clearly(allow):
    x = torch.zeros(1, 2, 4, 4, device="meta")
    with pytest.raises(DeviceError, match="meta tensor"):
        mm.compute_hausdorff_distance(x, x, allow_host_copy=allow)
    with pytest.raises(DeviceError, match="meta tensor"):
        mt.hausdorff_distance(x, x, 2, allow_host_copy=allow)


@pytest.mark.skipif(not CUDA, reason="no CUDA device on this machine (torch.cuda.is_available())")
def test_cuda_inputs_give_outputs_on_their_device():
    rng = np.random.default_rng(0)
    p, y = _masks(rng, (2, 3, 9, 9)), _masks(rng, (2, 3, 9, 9))
    pc, yc = p.cuda(), y.cuda()
    for fn in (mm.compute_hausdorff_distance, mm.compute_average_surface_distance):
        with pytest.raises(DeviceError, match="allow_host_copy"):
            fn(pc, yc)
        out = fn(pc, yc, allow_host_copy=True)
        assert out.device == pc.device
        torch.testing.assert_close(out.cpu(), fn(p, y), equal_nan=True)
    nsd = mm.compute_surface_dice(pc, yc, [1.0, 1.0], allow_host_copy=True)
    assert nsd.device == pc.device
    hd = mt.hausdorff_distance(pc.long(), yc.long(), 3, allow_host_copy=True)
    assert hd.device == pc.device
    torch.testing.assert_close(hd.cpu(), mt.hausdorff_distance(p.long(), y.long(), 3))
    m = mt.HausdorffDistance(num_classes=3, allow_host_copy=True).cuda()
    m.update(pc.long(), yc.long())
    assert m.compute().device == pc.device
    # Torch-side metrics compute on the device itself.
    lab_p, lab_y = pc.argmax(1), yc.argmax(1)
    dice = mt.dice_score(lab_p, lab_y, num_classes=3, input_format="index")
    assert dice.device == pc.device
    aurc = mtu.AURC().cuda()
    aurc.update(torch.rand(50, device="cuda"), torch.randint(0, 2, (50,), device="cuda"))
    assert aurc.compute().device.type == "cuda"
    ace = mtu.AdaptiveCalibrationError(task="binary").cuda()
    ace.update(torch.rand(50, device="cuda"), torch.randint(0, 2, (50,), device="cuda"))
    assert ace.compute().device.type == "cuda"


# -- the batched surface binding ------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 2, 7, 6), (2, 3, 5, 4, 6)])
@pytest.mark.parametrize("kind", ["voxels", "surfels"])
def test_batch_binding_equals_the_per_pair_binding(shape, kind):
    rng = np.random.default_rng(len(shape))
    p = rng.random(shape) < 0.35
    t = rng.random(shape) < 0.35
    p[0, 0] = False  # pred empty
    p[-1, -1], t[-1, -1] = False, False  # both empty
    nd = len(shape) - 2
    spacings = [list(rng.uniform(0.3, 2.5, nd)) for _ in range(shape[0])]
    flat = _native.surface_distances_batch(p, t, spacings, kind)
    assert len(flat) == shape[0] * shape[1]
    for b in range(shape[0]):
        for c in range(shape[1]):
            one = _native.surface_distances(
                np.ascontiguousarray(p[b, c]), np.ascontiguousarray(t[b, c]), spacings[b], kind
            )
            got = flat[b * shape[1] + c]
            for x, y in zip(got, one):
                np.testing.assert_array_equal(x, y)


def test_batch_binding_checks_its_arguments():
    m = np.zeros((2, 1, 4, 4), bool)
    with pytest.raises(ShapeMismatchError, match="spacings"):
        _native.surface_distances_batch(m, m, [[1.0, 1.0]])
    with pytest.raises(ShapeMismatchError):
        _native.surface_distances_batch(m, m[:1], [[1.0, 1.0]] * 2)
    rows = batch_distances(m, m, [(1.0, 1.0)] * 2, "euclidean", subvoxels=False)
    assert [[pd.status for pd in r] for r in rows] == [["both_empty"], ["both_empty"]]


# -- option audit against the installed peers -----------------------------------------------------
def _params(obj):
    if isinstance(obj, type):
        obj = obj.__dict__.get("__new__", obj.__init__)
    return inspect.signature(obj).parameters


AUDIT = [
    (
        "monai.metrics",
        mm,
        [
            "compute_dice",
            "compute_iou",
            "compute_hausdorff_distance",
            "compute_average_surface_distance",
            "compute_surface_dice",
            "DiceMetric",
            "MeanIoU",
            "HausdorffDistanceMetric",
            "SurfaceDistanceMetric",
            "SurfaceDiceMetric",
            "DiceHelper",
        ],
    ),
    (
        "torchmetrics.segmentation",
        mt,
        ["DiceScore", "GeneralizedDiceScore", "MeanIoU", "HausdorffDistance"],
    ),
    (
        "torchmetrics.functional.segmentation",
        mt,
        ["dice_score", "generalized_dice_score", "mean_iou", "hausdorff_distance"],
    ),
    (
        "torch_uncertainty.metrics",
        mtu,
        ["AURC", "AUGRC", "CovAt5Risk", "CovAtxRisk", "RiskAt80Cov", "RiskAtxCov", "FPR95"],
    ),
    (
        "torch_uncertainty.metrics.classification.calibration.adaptive_calibration_error",
        mtu,
        [
            "AdaptiveCalibrationError",
            "BinaryAdaptiveCalibrationError",
            "MulticlassAdaptiveCalibrationError",
        ],
    ),
]


@pytest.mark.parametrize("peer_module, shim, names", AUDIT, ids=[a[0] for a in AUDIT])
def test_every_peer_argument_is_accepted_with_the_peer_default(peer_module, shim, names):
    """Each peer parameter exists in the shim with the same default; unsupported values of one
    raise an error naming it (covered per shim), so no option is silently ignored."""
    peer = pytest.importorskip(peer_module, reason=f"{peer_module} is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            theirs, ours = _params(getattr(peer, name)), _params(getattr(shim, name))
            for arg, p in theirs.items():
                if arg in ("self", "cls") or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    continue
                assert arg in ours, f"{peer_module}.{name}: option {arg!r} missing in the shim"
                assert str(ours[arg].default) == str(p.default), (name, arg)
