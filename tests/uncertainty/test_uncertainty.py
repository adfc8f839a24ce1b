import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrust.exceptions import (
    DeviceError,
    DTypeError,
    EmptyInputError,
    InvalidArgumentError,
    InvalidValueError,
    ShapeMismatchError,
)
from medtrust.uncertainty import EnsembleAccumulator, pixel_confidence
from reference import uncertainty as ref

MAPS = ["pe", "ee", "mi", "max_prob"]


def _feed(members, **kw):
    acc = EnsembleAccumulator(**kw)
    for m in members:
        acc.add(m)
    return acc


def _check_against_oracle(acc, members, atol=2e-5):
    want = ref.maps(members)
    np.testing.assert_allclose(acc.mean_probs(), want["mean_probs"], atol=1e-6)
    np.testing.assert_allclose(acc.predictive_entropy(), want["pe"], atol=atol)
    np.testing.assert_allclose(acc.expected_entropy(), want["ee"], atol=atol)
    np.testing.assert_allclose(acc.mutual_information(), want["mi"], atol=atol)
    np.testing.assert_allclose(acc.max_prob(), want["max_prob"], atol=1e-6)
    for c in range(members.shape[1]):
        np.testing.assert_allclose(acc.class_weighted_entropy(c), want[f"class_pe_{c}"], atol=atol)
    for kind in ("msr", "pe", "ee", "mi"):
        np.testing.assert_allclose(pixel_confidence(acc, kind), want[f"conf_{kind}"], atol=atol)


@pytest.mark.parametrize(
    ("m", "c", "spatial"),
    [(1, 2, (7, 9)), (3, 4, (5, 6, 7)), (5, 3, (40, 30, 20)), (2, 5, (1000,))],
)
def test_streaming_matches_all_at_once_oracle(m, c, spatial):
    members = ref.random_members(np.random.default_rng(m * 10 + c), m, c, spatial)
    acc = _feed(members)
    assert acc.n_members == m and acc.n_classes == c and acc.spatial_shape == spatial
    assert acc.backend == "rust"
    _check_against_oracle(acc, members)
    assert acc.predictive_entropy().dtype == np.float32
    assert acc.mean_probs().shape == (c, *spatial)


def test_float16_members_match_oracle_on_their_values():
    members = ref.random_members(np.random.default_rng(1), 3, 3, (16, 17, 18)).astype(np.float16)
    acc = _feed(members)
    _check_against_oracle(acc, members.astype(np.float64), atol=5e-5)


def test_mixed_dtypes_and_cpu_torch_use_rust():
    torch = pytest.importorskip("torch", reason="torch extra not installed")
    members = ref.random_members(np.random.default_rng(2), 3, 2, (10, 11))
    acc = EnsembleAccumulator()
    acc.add(torch.from_numpy(members[0]))
    acc.add(members[1].astype(np.float16))
    acc.add(members[2].astype(np.float64))
    assert acc.backend == "rust"
    oracle = np.stack([members[0], members[1].astype(np.float16), members[2]])
    _check_against_oracle(acc, oracle.astype(np.float64))


def test_torch_path_equals_rust_path():
    torch = pytest.importorskip("torch", reason="torch extra not installed")
    members = ref.random_members(np.random.default_rng(3), 4, 4, (12, 13, 14))
    rust = _feed(members)
    tor = _feed([torch.from_numpy(m) for m in members], backend="torch")
    assert tor.backend == "torch"
    for name in ("mean_probs", "predictive_entropy", "expected_entropy", "mutual_information"):
        a, b = getattr(rust, name)(), getattr(tor, name)()
        assert isinstance(b, torch.Tensor)
        np.testing.assert_allclose(a, b.numpy(), atol=2e-6)
    np.testing.assert_allclose(
        rust.class_weighted_entropy(2), tor.class_weighted_entropy(2).numpy(), atol=2e-6
    )
    for kind in ("msr", "pe", "ee", "mi"):
        np.testing.assert_allclose(
            pixel_confidence(rust, kind), pixel_confidence(tor, kind).numpy(), atol=2e-6
        )
    # Validation is the same on both paths.
    bad = members[0].copy()
    bad[0, 1, 2, 3] += 0.5
    for acc, x in ((rust, bad), (tor, torch.from_numpy(bad))):
        with pytest.raises(InvalidValueError, match=r"^1 voxel\(s\)"):
            acc.add(x)


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 4),
    c=st.integers(1, 5),
    shape=st.lists(st.integers(1, 9), min_size=1, max_size=3),
    seed=st.integers(0, 10_000),
)
def test_property_matches_oracle(m, c, shape, seed):
    members = ref.random_members(np.random.default_rng(seed), m, c, tuple(shape))
    _check_against_oracle(_feed(members), members)


def test_member_order_changes_nothing_beyond_rounding():
    members = ref.random_members(np.random.default_rng(4), 5, 3, (20, 20))
    a = _feed(members)
    b = _feed(members[::-1])
    np.testing.assert_allclose(a.mutual_information(), b.mutual_information(), atol=1e-6)


def test_state_is_c_plus_one_floats_per_voxel():
    members = ref.random_members(np.random.default_rng(5), 4, 3, (8, 9, 10))
    acc = _feed(members)
    sum_p, sum_ent = acc.state()
    assert sum_p.nbytes + sum_ent.nbytes == (3 + 1) * 720 * 4


def test_hand_example():
    # Two members disagreeing completely on voxel 0, agreeing (0.5/0.5) on voxel 1.
    acc = _feed(
        [
            np.array([[1.0, 0.5], [0.0, 0.5]], np.float32),
            np.array([[0.0, 0.5], [1.0, 0.5]], np.float32),
        ]
    )
    ln2 = np.log(2)
    np.testing.assert_allclose(acc.predictive_entropy(), [ln2, ln2], rtol=1e-6)
    np.testing.assert_allclose(acc.expected_entropy(), [0.0, ln2], rtol=1e-6)
    np.testing.assert_allclose(acc.mutual_information(), [ln2, 0.0], atol=1e-7)
    np.testing.assert_allclose(pixel_confidence(acc, "mi"), [-ln2, 0.0], atol=1e-7)
    np.testing.assert_allclose(acc.class_weighted_entropy(1), [ln2 / 2, ln2 / 2], rtol=1e-6)


def test_bad_inputs():
    good = ref.random_members(np.random.default_rng(6), 1, 3, (4, 5))[0]
    acc = EnsembleAccumulator(n_classes=3)
    with pytest.raises(EmptyInputError):
        acc.predictive_entropy()
    with pytest.raises(ShapeMismatchError, match="4 classes"):
        acc.add(np.full((4, 4, 5), 0.25, np.float32))
    acc.add(good)
    with pytest.raises(ShapeMismatchError, match=r"\(4, 6\)"):
        acc.add(np.full((3, 4, 6), 1 / 3, np.float32))
    with pytest.raises(DTypeError):
        acc.add(good.astype(np.int32))
    with pytest.raises(ShapeMismatchError):
        EnsembleAccumulator().add(np.ones(3, np.float32))
    with pytest.raises(EmptyInputError):
        EnsembleAccumulator().add(np.ones((2, 0), np.float32))
    for bad_value in (np.nan, -0.1, np.inf):
        bad = good.copy()
        bad[1, 2, 3] = bad_value
        with pytest.raises(InvalidValueError, match="negative, NaN or infinite"):
            acc.add(bad)
    bad = good * 1.1
    with pytest.raises(InvalidValueError, match=r"^20 voxel\(s\).*summing to 1\.1"):
        acc.add(bad)
    assert acc.n_members == 1  # rejected members leave the state untouched
    _check_against_oracle(acc, good[None])
    with pytest.raises(InvalidArgumentError):
        acc.class_weighted_entropy(3)
    with pytest.raises(InvalidArgumentError):
        acc.maps([("nope", None)])
    with pytest.raises(InvalidArgumentError):
        EnsembleAccumulator(n_classes=0)
    with pytest.raises(InvalidArgumentError):
        EnsembleAccumulator(backend="gpu")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        pixel_confidence(acc, "entropy")  # type: ignore[arg-type]


def test_sigmoid_outputs_need_check_sum_off():
    p = np.array([[0.9, 0.2], [0.8, 0.1]], np.float32)  # overlapping regions
    with pytest.raises(InvalidValueError):
        EnsembleAccumulator().add(p)
    acc = _feed([p], check_sum=False)
    np.testing.assert_allclose(acc.max_prob(), [0.9, 0.2])


def test_non_contiguous_input_is_accepted():
    members = ref.random_members(np.random.default_rng(7), 2, 3, (6, 8))
    view = np.ascontiguousarray(members.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    assert not view[0].flags.c_contiguous
    _check_against_oracle(_feed(list(view)), members)


def test_device_tensors_never_go_to_rust():
    torch = pytest.importorskip("torch", reason="torch extra not installed")
    # "meta" tensors stand in for CUDA ones: any non-CPU device must stay off the host.
    x = torch.zeros(2, 3, device="meta")
    with pytest.raises(DeviceError, match="backend='rust'"):
        EnsembleAccumulator(backend="rust").add(x)
    acc = EnsembleAccumulator()
    acc.add(np.full((2, 3), 0.5, np.float32))
    with pytest.raises(DeviceError, match="same kind of device"):
        acc.add(x)
    if torch.cuda.is_available():
        acc = EnsembleAccumulator()
        acc.add(torch.full((2, 3), 0.5, device="cuda"))
        assert acc.backend == "torch" and acc.predictive_entropy().device.type == "cuda"


def test_same_bits_for_any_thread_count(tmp_path):
    code = (
        "import numpy as np, sys; sys.path.insert(0, 'tests');"
        "from reference import uncertainty as ref;"
        "from medtrust.uncertainty import EnsembleAccumulator;"
        "ms = ref.random_members(np.random.default_rng(0), 3, 4, (30, 40, 50));"
        "acc = EnsembleAccumulator();"
        "[acc.add(m) for m in ms];"
        "x = acc.maps([('pe', None), ('mi', None), ('class_pe', 1)]);"
        "np.save(sys.argv[1], np.concatenate([x.ravel(), acc.state()[0]]))"
    )
    root = Path(__file__).resolve().parents[2]
    outs = []
    for n in ("1", "3"):
        env = {**os.environ, "MEDTRUST_NUM_THREADS": n}
        f = tmp_path / f"t{n}.npy"
        subprocess.run([sys.executable, "-c", code, str(f)], check=True, env=env, cwd=root)
        outs.append(np.load(f))
    assert outs[0].tobytes() == outs[1].tobytes()


def test_gil_is_released_while_accumulating():
    import threading
    import time

    members = np.full((2, 2_000_000), 0.5, np.float32)
    acc = EnsembleAccumulator()
    ticks, stop = [], threading.Event()

    def counter():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=counter)
    t.start()
    start = time.perf_counter()
    for _ in range(4):
        acc.add(members)
    end = time.perf_counter()
    stop.set()
    t.join()
    assert end - start > 0.005
    assert len([x for x in ticks if start < x < end]) >= 2


# --- seg2: predicted labels and confidence maps straight from the running sums -----------------
def test_predicted_labels_equal_argmax_of_mean_probs():
    rng = np.random.default_rng(3)
    members = ref.random_members(rng, 4, 5, (9, 11, 7))
    # exact ties between classes: the lowest class wins, as with np.argmax
    members[:, :, 0, 0, 0] = 0.0
    members[:, 1, 0, 0, 0] = members[:, 3, 0, 0, 0] = 0.5
    acc = _feed(members)
    got = acc.predicted_labels()
    assert got.dtype == np.uint8 and got.shape == (9, 11, 7)
    np.testing.assert_array_equal(got, np.argmax(acc.mean_probs(), axis=0))
    np.testing.assert_array_equal(got, np.argmax(ref.maps(members)["mean_probs"], axis=0))
    assert got[0, 0, 0] == 1


def test_confidence_maps_match_oracle_and_single_kinds():
    rng = np.random.default_rng(4)
    members = ref.random_members(rng, 3, 4, (6, 8, 10))
    acc = _feed(members)
    want = ref.maps(members)
    kinds = ["msr", "pe", "ee", "mi"]
    got = acc.confidence_maps(kinds)
    assert got.shape == (4, 6, 8, 10) and got.dtype == np.float32
    for i, k in enumerate(kinds):
        np.testing.assert_allclose(got[i], want[f"conf_{k}"], atol=2e-5)
        np.testing.assert_array_equal(got[i], pixel_confidence(acc, k))
    # the former two-step formulas (uncertainty map, then ln C - x or -x), bit for bit
    logc = np.float32(np.log(4))
    np.testing.assert_array_equal(got[0], acc.max_prob())
    np.testing.assert_array_equal(got[1], logc - acc.predictive_entropy())
    np.testing.assert_array_equal(got[2], logc - acc.expected_entropy())
    np.testing.assert_array_equal(got[3], -acc.mutual_information())
    with pytest.raises(InvalidArgumentError):
        acc.confidence_maps(["entropy"])
    with pytest.raises(EmptyInputError):
        EnsembleAccumulator().predicted_labels()


def test_argmax_labels_of_one_member():
    from medtrust.uncertainty import argmax_labels

    rng = np.random.default_rng(5)
    p = ref.random_members(rng, 1, 3, (7, 9))[0]
    np.testing.assert_array_equal(argmax_labels(p), np.argmax(p, axis=0))
    assert argmax_labels(p).dtype == np.uint8
    half = p.astype(np.float16)
    np.testing.assert_array_equal(argmax_labels(half), np.argmax(half, axis=0))
    many = rng.random((300, 4, 5)).astype(np.float32)
    got = argmax_labels(many)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.argmax(many, axis=0))
    bad = p.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(InvalidValueError):
        argmax_labels(bad)
    with pytest.raises(DTypeError):
        argmax_labels(p.astype(np.int32))


def test_torch_backend_labels_and_confidences_equal_rust():
    torch = pytest.importorskip("torch", reason="torch not installed")
    rng = np.random.default_rng(6)
    members = ref.random_members(rng, 3, 4, (5, 6, 7))
    rust = _feed(members)
    tacc = _feed([torch.from_numpy(m) for m in members], backend="torch")
    np.testing.assert_array_equal(tacc.predicted_labels().numpy(), rust.predicted_labels())
    np.testing.assert_allclose(tacc.confidence_maps().numpy(), rust.confidence_maps(), atol=2e-6)


def test_argmax_labels_device_branch_runs_in_torch(monkeypatch):
    # The CUDA branch (labels reduced on the device) exercised with a CPU tensor.
    torch = pytest.importorskip("torch", reason="torch not installed")
    import medtrust.uncertainty.accumulator as accmod

    monkeypatch.setattr(accmod, "is_cuda_tensor", lambda x: isinstance(x, torch.Tensor))
    p = ref.random_members(np.random.default_rng(8), 1, 3, (5, 6, 7))[0]
    got = accmod.argmax_labels(torch.from_numpy(p))
    assert got.dtype == torch.uint8 and tuple(got.shape) == (5, 6, 7)
    np.testing.assert_array_equal(got.numpy(), np.argmax(p, axis=0))
