# Hand-written stub of the Rust extension; checked by `python -m mypy.stubtest medtrust._native`.
import numpy as np
import numpy.typing as npt

__version__: str
RISK_METRIC_NAMES: list[str]

def num_threads() -> int: ...
def _panic_for_tests() -> None: ...
def _plugin_progress(token: int, clear: bool = False) -> int: ...
def risk_metrics(
    confids: npt.NDArray[np.float64],
    residuals: npt.NDArray[np.float64],
    labels: npt.NDArray[np.float64] | None = None,
    tpr: float = 0.95,
    coverage: float = 0.95,
    risk: float = 0.05,
    bins: int = 20,
) -> dict[str, float]: ...
def risk_metrics_screened(
    confids: npt.NDArray[np.float64],
    residuals: npt.NDArray[np.float64],
    labels: npt.NDArray[np.float64] | None = None,
    tpr: float = 0.95,
    coverage: float = 0.95,
    risk: float = 0.05,
    bins: int = 20,
    check_range: bool = True,
) -> tuple[dict[str, float], bool] | None: ...
def risk_curve(
    confids: npt.NDArray[np.float64], residuals: npt.NDArray[np.float64]
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]: ...
def describe(x: npt.NDArray[np.float64]) -> tuple[int, float, float, bool]: ...
def bootstrap_risk(
    sets: list[
        tuple[
            npt.NDArray[np.float64],
            npt.NDArray[np.float64],
            npt.NDArray[np.float64] | None,
        ]
    ],
    n_resamples: int,
    seed: int,
    tpr: float = 0.95,
    coverage: float = 0.95,
    risk: float = 0.05,
    bins: int = 20,
) -> npt.NDArray[np.float64]: ...

# --- uncertainty (streaming ensemble accumulator; shared by failure detection and AL) ---
def uncertainty_state(
    n_classes: int, n_voxels: int, entropy: bool = True
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
def uncertainty_accumulate(
    sum_p: npt.NDArray[np.float32],
    sum_ent: npt.NDArray[np.float32],
    probs: npt.NDArray[np.float32] | npt.NDArray[np.float16],
    n_classes: int,
    sum_tol: float | None = None,
    offset: int = 0,
    first: bool = False,
    n_members: int = 1,
) -> None: ...
def uncertainty_maps(
    sum_p: npt.NDArray[np.float32],
    sum_ent: npt.NDArray[np.float32],
    n_classes: int,
    n_members: int,
    kinds: list[tuple[str, int | None]],
) -> npt.NDArray[np.float32]: ...

# --- segmentation metrics and failure detection (overlap, surface, aggregate) ---
_LabelMap = (
    npt.NDArray[np.uint8]
    | npt.NDArray[np.uint16]
    | npt.NDArray[np.int32]
    | npt.NDArray[np.int64]
    | npt.NDArray[np.bool_]
)
_ConfMap = npt.NDArray[np.float32] | npt.NDArray[np.float64]

def present_labels(
    maps: list[_LabelMap], names: list[str], skip: int | None = None
) -> npt.NDArray[np.int64]: ...
def confusion_counts(
    pred: _LabelMap,
    target: _LabelMap,
    classes: int | npt.NDArray[np.int64],
    ignore_label: int | None = None,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64], int, int]: ...
def pairwise_counts(
    members: list[_LabelMap], classes: int | npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]: ...
def surface_distances(
    pred: npt.NDArray[np.bool_],
    target: npt.NDArray[np.bool_],
    spacing: list[float],
    surface: str = "voxels",
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    bool,
    bool,
]: ...
def surface_distances_batch(
    pred: npt.NDArray[np.bool_],
    target: npt.NDArray[np.bool_],
    spacings: list[list[float]],
    surface: str = "voxels",
) -> list[
    tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        bool,
        bool,
    ]
]: ...
def aggregate_confidence(
    confidence: _ConfMap,
    labels: _LabelMap,
    width: int = 4,
    patch: int = 10,
    spacing: list[float] | None = None,
    saturate: float = 4.0,
    distance: bool = True,
) -> dict[str, float]: ...
def boundary_band(labels: _LabelMap, width: int = 4) -> npt.NDArray[np.bool_]: ...
def patch_min(confidence: _ConfMap, size: int = 10) -> float: ...

# --- active learning: patch pooling and selection (patches.rs), power sampling (sampling.rs) ---
def patch_grid(
    shape: tuple[int, int, int] | list[int],
    patch: tuple[int, int, int] | list[int],
    stride: tuple[int, int, int] | list[int],
    clip: bool,
) -> tuple[list[int], list[int]]: ...
def pool_map(
    map: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    patch: tuple[int, int, int] | list[int],
    stride: tuple[int, int, int] | list[int],
    clip: bool,
) -> npt.NDArray[np.float64]: ...
def pool_uncertainty(
    sum_p: npt.NDArray[np.float32],
    sum_ent: npt.NDArray[np.float32],
    n_classes: int,
    n_members: int,
    shape: tuple[int, int, int] | list[int],
    kinds: list[tuple[str, int | None]],
    patch: tuple[int, int, int] | list[int],
    stride: tuple[int, int, int] | list[int],
    clip: bool,
) -> npt.NDArray[np.float64]: ...
def select_greedy(
    scores: npt.NDArray[np.float64],
    shape: tuple[int, int, int] | list[int],
    patch: tuple[int, int, int] | list[int],
    stride: tuple[int, int, int] | list[int],
    clip: bool,
    blocked: npt.NDArray[np.int64],
    n: int,
) -> list[int]: ...
def power_noise(
    scores: npt.NDArray[np.float64], beta: float, seed: int, ids: list[int]
) -> npt.NDArray[np.float64]: ...
def top_k(values: npt.NDArray[np.float64], k: int) -> list[int]: ...
def gumbel_top_k(
    scores: npt.NDArray[np.float64], k: int, beta: float, seed: int, ids: list[int]
) -> list[int]: ...

# --- seg2: lean pixel-confidence path (confidence maps, argmax and aggregation from the
# accumulator state, without a mean-probabilities copy) ---
def uncertainty_confidence_maps(
    sum_p: npt.NDArray[np.float32],
    sum_ent: npt.NDArray[np.float32],
    n_classes: int,
    n_members: int,
    kinds: list[str],
) -> npt.NDArray[np.float32]: ...
def uncertainty_argmax(
    sum_p: npt.NDArray[np.float32], n_classes: int, n_members: int
) -> npt.NDArray[np.uint8] | npt.NDArray[np.int32]: ...
def probs_argmax(
    probs: npt.NDArray[np.float32] | npt.NDArray[np.float16], n_classes: int
) -> npt.NDArray[np.uint8] | npt.NDArray[np.int32]: ...
def aggregate_confidences(
    sum_p: npt.NDArray[np.float32],
    sum_ent: npt.NDArray[np.float32],
    n_classes: int,
    n_members: int,
    kinds: list[str],
    labels: _LabelMap,
    width: int = 4,
    patch: int = 10,
    spacing: list[float] | None = None,
    saturate: float = 4.0,
    distance: bool = True,
) -> list[dict[str, float]]: ...
