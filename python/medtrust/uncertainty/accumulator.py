"""Streaming ensemble uncertainty over members fed one at a time.

(Over 400 lines: one class whose methods share its lock and its state, two backends of every
map behind the same checks; the buffers kept between accumulators live in ``_buffers``.)

:class:`EnsembleAccumulator` keeps the running sum of softmax probabilities ``[C, *spatial]``
and the running sum of per-member entropies ``[*spatial]`` (both float32), so memory is about
(C + 1) x voxels floats whatever the number of members M. numpy arrays and CPU torch tensors
go to the Rust core (parallel, GIL released, no copy of contiguous float16/float32 input); CUDA
tensors are accumulated with the same maths in torch on their device (no host copy).

Natural log, 0 log 0 = 0. With p_bar the mean of the members' probabilities:

- predictive entropy (PE) ``H(p_bar) = -sum_c p_bar log p_bar``
- expected entropy (EE) ``mean_m H(p_m)``
- mutual information (BALD) ``PE - EE`` (clipped at 0 against rounding)
- ClaSP's class-weighted entropy ``U_c = H(p_bar) * p_bar(c)``

The members' entropies cost one logarithm per probability on every add (a vectorised log,
AVX2 where the CPU has it, bit-identical to the portable one); an accumulator told which maps
it will serve (``kinds=``) keeps that sum only when an EE- or MI-based map is among them
(``kinds=["pe"]`` for ClaSP's PE query or PE-based failure detection). The first member is
validated and stored in one pass over its probabilities; later members are validated whole,
then added (a rejected member leaves the sums as they were). A stacked ensemble
``[M, C, *spatial]`` goes in with :meth:`EnsembleAccumulator.add_members`: into an empty
accumulator, one pass (each probability read once, the state written once), with the member
loop's sums and errors.

Pixel CONFIDENCES (higher = more confident, :func:`pixel_confidence`,
:meth:`EnsembleAccumulator.confidence_maps`) and the predicted segmentation
(:meth:`EnsembleAccumulator.predicted_labels`, the argmax of p_bar) come straight from the
running sums: no copy of p_bar (:meth:`~EnsembleAccumulator.mean_probs`) is needed for them.

Over 400 lines because the Rust and torch backends of one class share its checks, locking and
map names; the maths is in the Rust core (and ``_torch_maps`` for devices).

Examples
--------
>>> import numpy as np
>>> from medtrust.uncertainty import EnsembleAccumulator
>>> acc = EnsembleAccumulator()
>>> acc.add(np.array([[0.9, 0.5], [0.1, 0.5]], dtype=np.float32))
>>> acc.add(np.array([[0.1, 0.5], [0.9, 0.5]], dtype=np.float32))
>>> acc.n_members, acc.mean_probs().tolist()
(2, [[0.5, 0.5], [0.5, 0.5]])
>>> np.round(acc.mutual_information().astype(float), 4).tolist()
[0.3681, 0.0]
"""

from __future__ import annotations

import functools
import math
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

import numpy as np

from medtrust import _native
from medtrust._arrays import (
    as_int,
    as_prob_array,
    check_tensor_device,
    is_cuda_tensor,
    is_torch_tensor,
)
from medtrust.exceptions import (
    DeviceError,
    DTypeError,
    EmptyInputError,
    InvalidArgumentError,
    InvalidValueError,
    ShapeMismatchError,
)
from medtrust.uncertainty._buffers import DROPPED, SOLE_HOLDER, DroppedBuffers

__all__ = ["Backend", "EnsembleAccumulator", "argmax_labels"]

Backend = Literal["auto", "rust", "torch"]

#: Default tolerance of the per-voxel check sum_c p = 1, by input dtype.
DEFAULT_SUM_TOL = {"float16": 1e-2, "float32": 1e-3, "float64": 1e-3, "bfloat16": 2e-2}

#: Map and confidence names an accumulator can be asked for (``kinds=``), and those of them
#: that need the running sum of the members' entropies.
MAP_NAMES: tuple[str, ...] = ("pe", "ee", "mi", "max_prob", "class_pe", "mean_prob", "msr")
ENTROPY_MAPS: frozenset[str] = frozenset({"ee", "mi"})

#: Voxels per chunk on the torch path (bounds the float32 temporaries).
_TORCH_CHUNK = 1 << 22

_F = TypeVar("_F", bound=Callable[..., Any])


def _locked(method: _F) -> _F:
    """Run a method under the accumulator's lock (a reader must not meet a half-done add)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class EnsembleAccumulator:
    """Running sums of M members' softmax maps; maps on demand.

    Parameters
    ----------
    n_classes
        Number of classes C; taken from the first member when None.
    check_sum
        Require each voxel's class probabilities to sum to 1 (softmax outputs). Turn off for
        region-based (sigmoid) outputs; values must still be finite and >= 0.
    sum_tol
        Tolerance of that check; default 1e-3 for float32 input, 1e-2 for float16.
    backend
        ``"auto"``: Rust for numpy / CPU tensors, torch on the device for CUDA tensors.
        ``"torch"`` forces the torch maths (also on CPU tensors; used to cross-check).
        ``"rust"`` refuses device tensors.
    kinds
        The maps / confidences this accumulator will serve (names of :meth:`maps` and
        :meth:`confidence_maps`: ``pe``, ``ee``, ``mi``, ``max_prob``, ``class_pe``,
        ``mean_prob``, ``msr``). The running sum of the members' entropies (one logarithm per
        probability on every add, and V floats of state) is kept only when ``ee`` or ``mi`` is
        among them; asking for an EE / MI map without it raises
        :class:`~medtrust.exceptions.InvalidArgumentError`. None (default): keep everything.

    Examples
    --------
    >>> import numpy as np
    >>> acc = EnsembleAccumulator(kinds=["pe", "class_pe"])
    >>> acc.add(np.array([[0.5, 1.0], [0.5, 0.0]], dtype=np.float32))
    >>> acc.keeps_member_entropy, np.round(acc.predictive_entropy().astype(float), 4).tolist()
    (False, [0.6931, 0.0])

    Notes
    -----
    A member that fails validation is rejected whole: the state is left as it was.
    Member maps are float32 or float16 (float64 is converted to float32, a copy of that one
    member). Results are float32 numpy arrays, or float32 tensors on the torch backend.

    Thread safety: :meth:`add`, :meth:`reset` and the map methods hold one lock per
    accumulator, so members added from several threads at once are all counted (they are
    summed one at a time; each sum is itself parallel in Rust). The lock is not pickled.
    """

    def __init__(
        self,
        n_classes: int | None = None,
        *,
        check_sum: bool = True,
        sum_tol: float | None = None,
        backend: Backend = "auto",
        kinds: Iterable[str] | None = None,
    ) -> None:
        if kinds is not None:
            if isinstance(kinds, str):
                kinds = [kinds]
            kinds = [str(k) for k in kinds]
            unknown = [k for k in kinds if k not in MAP_NAMES]
            if unknown:
                raise InvalidArgumentError(
                    f"kinds: unknown map(s) {unknown}; expected some of {', '.join(MAP_NAMES)}"
                )
        self.kinds: tuple[str, ...] | None = None if kinds is None else tuple(kinds)
        #: Whether the running sum of the members' entropies is kept (EE / MI possible).
        self.keeps_member_entropy = kinds is None or any(k in ENTROPY_MAPS for k in kinds)
        if n_classes is not None:
            as_int(n_classes, "n_classes", lo=1, hi=2**31 - 1)
        if backend not in ("auto", "rust", "torch"):
            raise InvalidArgumentError(f"backend must be auto, rust or torch, got {backend!r}")
        if sum_tol is not None and not (sum_tol > 0):
            raise InvalidArgumentError(f"sum_tol must be > 0, got {sum_tol!r}")
        self._n_classes_arg = None if n_classes is None else int(n_classes)
        self.check_sum = bool(check_sum)
        self.sum_tol = sum_tol
        self.backend_option: Backend = backend
        # Why a lock: without it two threads adding the first members each build a state and
        # the last one wins (members lost silently), and later concurrent adds collide on
        # numpy's borrow check inside the kernel. Reentrant because subclasses call back in.
        self._lock = threading.RLock()
        self.reset()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)  # locks cannot be pickled; a fresh one per copy
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def reset(self, *, keep_buffers: bool = False) -> None:
        """Forget every member.

        With ``keep_buffers`` the Rust state's buffers are kept and overwritten in place when the
        next image has the same number of values, so a loop over pool images pays the
        allocation and its page faults once (arrays returned by :meth:`state` before the reset
        are then overwritten by the next image's sums).

        Parameters
        ----------
        keep_buffers : bool, default False
            Keep the Rust state's buffers for reuse (the next first member overwrites them)
            instead of dropping them.

        Examples
        --------
        >>> import numpy as np
        >>> acc = EnsembleAccumulator(kinds=["pe"])
        >>> acc.add(np.array([[0.5], [0.5]], dtype=np.float32))
        >>> buf = acc.state()[0]
        >>> acc.reset(keep_buffers=True)
        >>> acc.add(np.array([[1.0], [0.0]], dtype=np.float32))
        >>> acc.state()[0] is buf, buf.tolist()
        (True, [1.0, 0.0])
        """
        with self._lock:
            spare = None
            if keep_buffers and getattr(self, "backend", None) == "rust":
                spare = (self._sum_p, self._sum_ent)
            elif keep_buffers:
                spare = getattr(self, "_spare", None)  # no member since: keep the offered ones
            else:
                self._drop()
            self._spare: tuple[Any, Any] | None = spare
            self.n_classes: int | None = self._n_classes_arg
            self.spatial_shape: tuple[int, ...] | None = None
            self.n_members = 0
            self.backend: Literal["rust", "torch"] | None = None
            self._sum_p: Any = None
            self._sum_ent: Any = None

    def __del__(self) -> None:
        try:
            with self._lock:
                self._drop()
        except Exception:  # interpreter shutdown: modules may be gone already
            pass

    def _drop(self) -> None:
        """Hand the Rust state's buffers to the process's spare pair if nothing else has them.

        See :class:`~medtrust.uncertainty._buffers.DroppedBuffers`; called where the
        accumulator lets its buffers go.
        """
        # getattr: `__del__` also meets an accumulator whose `__init__` raised.
        if getattr(self, "backend", None) != "rust" or self._sum_p is None:
            return
        sum_p, sum_ent = self._sum_p, self._sum_ent
        self._sum_p = self._sum_ent = None
        # As for one local alone (`sole_holder_refcount`) when no array, view (its `base`),
        # tensor or memoryview of a caller still refers to the buffer.
        only_ours = (
            sys.getrefcount(sum_p) == SOLE_HOLDER and sys.getrefcount(sum_ent) == SOLE_HOLDER
        )
        if only_ours and sum_p.nbytes + sum_ent.nbytes <= DroppedBuffers.MAX_BYTES:
            DROPPED.keep(sum_p, sum_ent)

    @staticmethod
    def release_buffers() -> None:
        """Free the state buffers kept from dropped accumulators for the next one.

        A dropped (or reset) accumulator whose buffers nothing else refers to leaves them to the
        next accumulator of the same size, so that a loop creating one accumulator per image
        maps and clears the state's pages once (one pair, the latest, of at most 2 GiB).

        Examples
        --------
        >>> import weakref
        >>> import numpy as np
        >>> a = EnsembleAccumulator(kinds=["pe"])
        >>> a.add(np.full((2, 3), 0.5, np.float32))
        >>> buffer = weakref.ref(a.state()[0])  # keeps nothing alive
        >>> del a  # its buffers are kept for the next accumulator of that size
        >>> b = EnsembleAccumulator(kinds=["pe"])
        >>> b.add(np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]], np.float32))
        >>> b.state()[0] is buffer(), b.state()[0].tolist()
        (True, [1.0, 0.0, 0.5, 0.0, 1.0, 0.5])
        >>> EnsembleAccumulator.release_buffers()  # frees any kept pair
        """
        DROPPED.release()

    # ------------------------------------------------------------------ feeding members
    def add(self, probs: Any) -> None:
        """Add one member's softmax probabilities ``[C, *spatial]`` (float16 or float32).

        Safe to call from several threads at once (see the class notes).

        Parameters
        ----------
        probs
            One member's softmax probabilities ``[C, *spatial]`` (float16 or float32; numpy array or
            torch tensor).
        """
        with self._lock:
            self._add_locked(probs)

    def _add_locked(self, probs: Any) -> None:
        use_torch = self.backend_option == "torch" or (
            self.backend_option == "auto" and is_cuda_tensor(probs)
        )
        if self.backend_option == "rust" and is_cuda_tensor(probs):
            raise DeviceError(
                f"probs is on {probs.device} but backend='rust'; use backend='auto' to "
                "accumulate on the device, or move the tensor with .cpu()"
            )
        if self.backend is not None and self.backend != ("torch" if use_torch else "rust"):
            raise DeviceError(
                f"this accumulator holds its state on the {self.backend} backend; every member "
                "must come from the same kind of device"
            )
        check_tensor_device(probs, "probs")  # after the checks above: they name the backend
        if use_torch:
            self._add_torch(probs)
        else:
            self._add_rust(probs)

    update = add

    def add_members(self, members: Any) -> None:
        """Add a stack of members ``[M, C, *spatial]`` (a stacked ensemble) in member order.

        The result equals ``for p in members: acc.add(p)`` bit for bit, errors included: an
        invalid member is rejected (the error names its index) and the members
        before it stay added. Into an empty accumulator on the Rust backend the whole stack
        goes through one pass: each probability is read once and the state written once, where
        member-by-member adds read every later member twice (check, then add) and read and
        write the state once per member (about 4x less memory traffic for 5 members; see the
        README's benchmark table). Otherwise (members already added, the torch backend, CUDA
        tensors, or a list of members) this is that loop.

        Parameters
        ----------
        members
            Members' softmax probabilities: an array or tensor ``[M, C, *spatial]`` (float16 or
            float32), or a sequence of ``[C, *spatial]`` members.

        Examples
        --------
        >>> import numpy as np
        >>> stack = np.array([[[0.5, 1.0], [0.5, 0.0]], [[0.25, 1.0], [0.75, 0.0]]], np.float32)
        >>> a, b = EnsembleAccumulator(), EnsembleAccumulator()
        >>> a.add_members(stack)
        >>> for p in stack:
        ...     b.add(p)
        >>> a.n_members, bool((a.state()[0] == b.state()[0]).all())
        (2, True)
        """
        with self._lock:
            stacked = getattr(members, "ndim", 0) >= 3 and not is_cuda_tensor(members)
            # Only a state that does not exist yet can start from a stack (a subclass may hold
            # one before any member: SlabAccumulator).
            if stacked and self._sum_p is None and self.backend_option != "torch":
                try:
                    self._add_rust(members, stacked=True)
                    return
                except InvalidValueError:
                    # The one pass is all or nothing (the state stays empty); the loop below
                    # re-adds the valid members before the first invalid one and raises its
                    # error, as the loop would.
                    pass
            for i, p in enumerate(members):
                try:
                    self.add(p)  # the lock is reentrant; subclasses' add is honoured
                except InvalidValueError as e:
                    raise InvalidValueError(f"member {i}: {e}") from None

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        c, spatial = shape[0], tuple(int(s) for s in shape[1:])
        if self.n_classes is not None and c != self.n_classes:
            raise ShapeMismatchError(
                f"member has {c} classes (shape {tuple(shape)}) but the accumulator expects "
                f"{self.n_classes}"
            )
        if self.spatial_shape is not None and spatial != self.spatial_shape:
            raise ShapeMismatchError(
                f"member spatial shape {spatial} differs from the first member's "
                f"{self.spatial_shape}"
            )

    def _tol(self, dtype_name: str) -> float | None:
        if not self.check_sum:
            return None
        return self.sum_tol if self.sum_tol is not None else DEFAULT_SUM_TOL.get(dtype_name, 1e-3)

    def _add_rust(self, probs: Any, *, stacked: bool = False) -> None:
        """Add one member, or (``stacked``, empty state only) a stack ``[M, C, *spatial]``."""
        a = as_prob_array(probs, "members" if stacked else "probs", min_ndim=3 if stacked else 2)
        n_members, shape = (a.shape[0], a.shape[1:]) if stacked else (1, a.shape)
        self._check_shape(shape)
        tol = self._tol(str(a.dtype))
        first = self._sum_p is None
        if first:
            c = shape[0]
            v = a.size // (n_members * c)
            spare = self._spare
            v_ent = v if self.keeps_member_entropy else 0
            if spare is None or spare[0].size != c * v or spare[1].size != v_ent:
                # A dropped accumulator's pair of this size, if one is kept (`_buffers`);
                # held as offered buffers are, so that a rejected first member keeps them.
                spare = DROPPED.take(c * v, v_ent)
                if spare is not None:
                    self._spare = spare
            if spare is not None:
                # reset(keep_buffers=True), offer_buffers() or a dropped accumulator's: no new
                # pages to fault, and no zeroing either: the first member overwrites the sums.
                sum_p, sum_ent = spare
            else:
                sum_p, sum_ent = _native.uncertainty_state(c, v, self.keeps_member_entropy)
        else:
            sum_p, sum_ent = self._sum_p, self._sum_ent
        # The first member is validated and stored in one pass over p (its sums replace the
        # buffers' contents); later ones are validated whole, then added (a rejected member
        # leaves the sums as they were).
        _native.uncertainty_accumulate(
            sum_p, sum_ent, a, shape[0], tol, first=first, n_members=n_members
        )
        if first:
            self._spare = None
        self._commit("rust", shape, sum_p, sum_ent, n_members)

    def offer_buffers(self, sum_p: Any, sum_ent: Any) -> None:
        """Offer state buffers for this accumulator to reuse (no allocation, no page faults).

        They are used when the first member has ``sum_p.size`` values (and ``sum_ent`` holds one
        value per voxel, or none when the members' entropies are not kept); otherwise new
        buffers are allocated. The caller must not use them afterwards: the first member
        overwrites them. :class:`~medtrust.active.AccumulatorSource` hands one image's buffers
        to the next image this way.

        Parameters
        ----------
        sum_p, sum_ent : numpy.ndarray
            Flat float32 buffers (as :meth:`state` returns them).

        Examples
        --------
        >>> import numpy as np
        >>> a = EnsembleAccumulator(kinds=["pe"])
        >>> a.add(np.full((2, 3), 0.5, np.float32))
        >>> b = EnsembleAccumulator(kinds=["pe"])
        >>> b.offer_buffers(*a.state())
        >>> b.add(np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]], np.float32))
        >>> b.state()[0] is a.state()[0], b.state()[0].tolist()
        (True, [1.0, 0.0, 0.5, 0.0, 1.0, 0.5])
        """
        with self._lock:
            ok = (
                isinstance(sum_p, np.ndarray)
                and isinstance(sum_ent, np.ndarray)
                and sum_p.dtype == np.float32
                and sum_ent.dtype == np.float32
                and sum_p.ndim == 1
                and sum_ent.ndim == 1
                and sum_p.flags.c_contiguous
                and sum_ent.flags.c_contiguous
                and sum_p.flags.writeable
                and sum_ent.flags.writeable
            )
            if not ok:
                raise DTypeError("offer_buffers needs flat, writeable float32 numpy arrays")
            if self.n_members == 0:
                self._spare = (sum_p, sum_ent)

    def _add_torch(self, probs: Any) -> None:
        import torch

        if not is_torch_tensor(probs):
            probs = torch.from_numpy(as_prob_array(probs, "probs"))
        if probs.dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
            raise DTypeError(f"probs must hold float16 or float32 probabilities, got {probs.dtype}")
        if probs.ndim < 2:
            raise ShapeMismatchError(
                f"probs must have shape [C, *spatial] (at least 2 axes), got {tuple(probs.shape)}"
            )
        if probs.numel() == 0:
            raise EmptyInputError("probs is empty")
        self._check_shape(tuple(probs.shape))
        if self._sum_p is not None and probs.device != self._sum_p.device:
            raise DeviceError(
                f"member is on {probs.device} but the state is on {self._sum_p.device}"
            )
        tol = self._tol(str(probs.dtype).removeprefix("torch."))
        c = probs.shape[0]
        flat = probs.detach().reshape(c, -1)
        v = flat.shape[1]
        chunks = [slice(s, min(s + _TORCH_CHUNK, v)) for s in range(0, v, _TORCH_CHUNK)]
        n_bad, first = 0, None
        with torch.no_grad():
            for sl in chunks:  # validate the whole member before touching the state
                p = flat[:, sl].float()
                total = torch.where((p >= 0).all(0), p.sum(0), torch.nan)
                ok = torch.isfinite(total)
                if tol is not None:
                    ok &= (total - 1).abs() <= tol
                bad = (~ok).nonzero()
                if bad.numel():
                    if first is None:
                        i = int(bad[0, 0])
                        first = (sl.start + i, float(total[i]))
                    n_bad += int(bad.shape[0])
            if first is not None:
                what = (
                    "a negative, NaN or infinite probability"
                    if math.isnan(first[1])
                    else f"class probabilities summing to {first[1]} (tolerance {tol})"
                )
                raise InvalidValueError(
                    f"{n_bad} voxel(s) are not valid probability vectors; the first (flat voxel "
                    f"index {first[0]}) has {what}. Pass softmax outputs, or disable the sum "
                    "check for region-based (sigmoid) outputs"
                )
            if self._sum_p is None:
                sum_p = torch.zeros((c, v), dtype=torch.float32, device=flat.device)
                v_ent = v if self.keeps_member_entropy else 0
                sum_ent = torch.zeros(v_ent, dtype=torch.float32, device=flat.device)
            else:
                sum_p, sum_ent = self._sum_p, self._sum_ent
            for sl in chunks:
                p = flat[:, sl].float()
                sum_p[:, sl] += p
                if self.keeps_member_entropy:
                    sum_ent[sl] -= torch.special.xlogy(p, p).sum(0)
        self._commit("torch", tuple(probs.shape), sum_p, sum_ent)

    def _commit(
        self, backend: Any, shape: tuple[int, ...], sum_p: Any, sum_ent: Any, added: int = 1
    ) -> None:
        self.backend = backend
        self.n_classes = int(shape[0])
        self.spatial_shape = tuple(int(s) for s in shape[1:])
        self._sum_p, self._sum_ent = sum_p, sum_ent
        self.n_members += added

    # ------------------------------------------------------------------ maps
    def _require(self) -> None:
        if self.n_members == 0:
            raise EmptyInputError("no member was added to the accumulator")

    def state(self) -> tuple[Any, Any]:
        """The raw running sums ``(sum_p [C, V], sum_ent [V])`` (flat; not copies).

        ``sum_ent`` is empty when the members' entropies are not kept (``kinds=``).

        Returns
        -------
        tuple
            ``(sum_p [C, V], sum_ent [V])``, the accumulator's own arrays.
        """
        self._require()
        return self._sum_p, self._sum_ent

    def _check_entropy(self, names: Iterable[str]) -> None:
        """Refuse maps that need the members' entropies when they were not kept."""
        need = sorted({n for n in names if n in ENTROPY_MAPS})
        if need and not self.keeps_member_entropy:
            raise InvalidArgumentError(
                f"map(s) {need} need the running sum of the members' entropies, which this "
                f"accumulator does not keep (kinds={list(self.kinds or ())}); construct it "
                "with kinds including 'ee' or 'mi', or kinds=None"
            )

    @_locked
    def maps(self, kinds: list[tuple[str, int | None]]) -> Any:
        """Several voxel maps at once, shape ``[len(kinds), *spatial]``.

        ``kinds`` holds ``(name, class)`` pairs with name in ``pe``, ``ee``, ``mi``,
        ``max_prob``, ``class_pe`` (U_c) and ``mean_prob`` (class needed by the last two).

        Parameters
        ----------
        kinds
            ``(name, class)`` pairs (class None where not needed).

        Returns
        -------
        array
            float32 maps ``[len(kinds), *spatial]``.
        """
        self._require()
        assert self.n_classes is not None and self.spatial_shape is not None
        for name, c in kinds:
            if name in ("class_pe", "mean_prob"):
                if c is None or not 0 <= int(c) < self.n_classes:
                    raise InvalidArgumentError(
                        f"map {name!r} needs a class index in [0, {self.n_classes}), got {c!r}"
                    )
            elif name not in ("pe", "ee", "mi", "max_prob"):
                raise InvalidArgumentError(
                    f"unknown map {name!r}; expected pe, ee, mi, max_prob, class_pe, mean_prob"
                )
        kinds = [(n, None if c is None else int(c)) for n, c in kinds]
        self._check_entropy(n for n, _ in kinds)
        shape = (len(kinds), *self.spatial_shape)
        if self.backend == "torch":
            return _torch_maps(self._sum_p, self._sum_ent, self.n_members, kinds).reshape(shape)
        out = _native.uncertainty_maps(
            self._sum_p, self._sum_ent, self.n_classes, self.n_members, kinds
        )
        return out.reshape(shape)

    def _one(self, name: str, c: int | None = None) -> Any:
        return self.maps([(name, c)])[0]

    @_locked
    def mean_probs(self) -> Any:
        """p_bar, shape ``[C, *spatial]``.

        A new array as large as one member's probabilities; :meth:`predicted_labels` and
        :meth:`confidence_maps` do not need it.

        Returns
        -------
        array
            Mean probabilities ``[C, *spatial]``.
        """
        self._require()
        assert self.spatial_shape is not None
        return (self._sum_p * (1.0 / self.n_members)).reshape((self.n_classes, *self.spatial_shape))

    @_locked
    def predicted_labels(self) -> Any:
        """The predicted segmentation: argmax over classes of p_bar (ties: the lowest class).

        Computed from the running sums without a copy of p_bar; equal to
        ``np.argmax(acc.mean_probs(), axis=0)``. uint8 labels (int32 above 256 classes), shape
        ``spatial_shape``; a tensor on the torch backend.

        Returns
        -------
        array
            uint8 (int32 above 256 classes) label map, shape ``spatial_shape`` (numpy array; a
            tensor on the torch backend).

        Examples
        --------
        >>> import numpy as np
        >>> acc = EnsembleAccumulator()
        >>> acc.add(np.array([[0.9, 0.2], [0.1, 0.8]], dtype=np.float32))
        >>> acc.predicted_labels().tolist()
        [0, 1]
        """
        self._require()
        assert self.n_classes is not None and self.spatial_shape is not None
        if self.backend == "torch":
            return _torch_argmax(self._sum_p, self.n_members).reshape(self.spatial_shape)
        labels = _native.uncertainty_argmax(self._sum_p, self.n_classes, self.n_members)
        return labels.reshape(self.spatial_shape)

    @_locked
    def confidence_maps(self, kinds: Any = ("msr", "pe", "ee", "mi")) -> Any:
        """Pixel-confidence maps (see :func:`pixel_confidence`), shape ``[len(kinds), *spatial]``.

        All kinds in one pass over the running sums, float32; a tensor on the torch backend.

        Parameters
        ----------
        kinds
            Names of :data:`CONFIDENCE_KINDS` (``msr``, ``pe``, ``ee``, ``mi``).

        Returns
        -------
        array
            float32 maps ``[len(kinds), *spatial]`` (higher = more confident).

        Examples
        --------
        >>> import numpy as np
        >>> acc = EnsembleAccumulator()
        >>> acc.add(np.array([[1.0, 0.5], [0.0, 0.5]], dtype=np.float32))
        >>> np.round(acc.confidence_maps(["msr", "pe"]).astype(float), 4).tolist()
        [[1.0, 0.5], [0.6931, 0.0]]
        """
        self._require()
        assert self.n_classes is not None and self.spatial_shape is not None
        kinds = [str(k) for k in kinds]
        bad = [k for k in kinds if k not in CONFIDENCE_KINDS]
        if bad:
            raise InvalidArgumentError(f"unknown confidence(s) {bad}; expected msr, pe, ee, mi")
        self._check_entropy(kinds)
        shape = (len(kinds), *self.spatial_shape)
        if self.backend == "torch":
            import torch

            names = {"msr": "max_prob", "pe": "pe", "ee": "ee", "mi": "mi"}
            maps = self.maps([(names[k], None) for k in kinds])
            log_c = torch.tensor(math.log(self.n_classes), dtype=torch.float32)
            for i, k in enumerate(kinds):
                if k in ("pe", "ee"):
                    maps[i] = log_c.to(maps.device) - maps[i]
                elif k == "mi":
                    maps[i] = -maps[i]
            return maps.reshape(shape)
        out = _native.uncertainty_confidence_maps(
            self._sum_p, self._sum_ent, self.n_classes, self.n_members, kinds
        )
        return out.reshape(shape)

    def predictive_entropy(self) -> Any:
        """H(p_bar) per voxel (nats).

        Returns
        -------
        array
            Entropy in nats, in [0, log C], shape ``spatial_shape`` (numpy array; a tensor on the
            torch backend).
        """
        return self._one("pe")

    def expected_entropy(self) -> Any:
        """mean_m H(p_m) per voxel (nats).

        Returns
        -------
        array
            Mean member entropy in nats, shape ``spatial_shape`` (numpy array; a tensor on the torch
            backend).
        """
        return self._one("ee")

    def mutual_information(self) -> Any:
        """BALD: H(p_bar) - mean_m H(p_m), clipped at 0.

        Returns
        -------
        array
            Mutual information in nats, >= 0, shape ``spatial_shape`` (numpy array; a tensor on the
            torch backend).
        """
        return self._one("mi")

    def max_prob(self) -> Any:
        """max_c p_bar(c) per voxel.

        Returns
        -------
        array
            Largest mean probability, in [1/C, 1], shape ``spatial_shape`` (numpy array; a tensor on
            the torch backend).
        """
        return self._one("max_prob")

    def class_weighted_entropy(self, c: int) -> Any:
        """ClaSP's U_c = H(p_bar) * p_bar(c) per voxel.

        Parameters
        ----------
        c
            Class index.

        Returns
        -------
        array
            U_c in nats, shape ``spatial_shape`` (numpy array; a tensor on the torch backend).
        """
        return self._one("class_pe", c)

    def __repr__(self) -> str:
        kinds = "" if self.kinds is None else f", kinds={list(self.kinds)}"
        return (
            f"EnsembleAccumulator(n_classes={self.n_classes}, n_members={self.n_members}, "
            f"spatial_shape={self.spatial_shape}, backend={self.backend}{kinds})"
        )


def _torch_maps(sum_p: Any, sum_ent: Any, m: int, kinds: list[tuple[str, int | None]]) -> Any:
    """The same maps as the Rust kernel, in torch on the state's device.

    Computed chunk by chunk: temporaries are bounded by the chunk size, never a [C, V] copy.
    """
    import torch

    v = sum_p.shape[1]  # sum_ent is empty when the entropies are not kept
    out = torch.empty((len(kinds), v), dtype=torch.float32, device=sum_ent.device)
    inv = 1.0 / m
    need_pe = any(n in ("pe", "mi", "class_pe") for n, _ in kinds)
    with torch.no_grad():
        for s in range(0, v, _TORCH_CHUNK):
            sl = slice(s, min(s + _TORCH_CHUNK, v))
            pbar = sum_p[:, sl] * inv
            pe = (-torch.special.xlogy(pbar, pbar).sum(0)).clamp_min(0) if need_pe else None
            for k, (name, c) in enumerate(kinds):
                if name == "pe":
                    out[k, sl] = pe
                elif name == "ee":
                    out[k, sl] = (sum_ent[sl] * inv).clamp_min(0)
                elif name == "mi":
                    out[k, sl] = (pe - sum_ent[sl] * inv).clamp_min(0)
                elif name == "max_prob":
                    out[k, sl] = pbar.amax(0)
                elif name == "class_pe":
                    out[k, sl] = pe * pbar[c]
                else:
                    out[k, sl] = pbar[c]
    return out


ConfidenceKind = Literal["msr", "pe", "ee", "mi"]

#: The pixel confidences of :func:`pixel_confidence`.
CONFIDENCE_KINDS: tuple[str, ...] = ("msr", "pe", "ee", "mi")


def _torch_argmax(sum_p: Any, m: int) -> Any:
    """Argmax over classes of ``sum_p * (1 / m)`` (as the mean probabilities), chunked."""
    import torch

    c, v = sum_p.shape
    dtype = torch.uint8 if c <= 256 else torch.int32
    out = torch.empty(v, dtype=dtype, device=sum_p.device)
    with torch.no_grad():
        for s in range(0, v, _TORCH_CHUNK):
            sl = slice(s, min(s + _TORCH_CHUNK, v))
            out[sl] = (sum_p[:, sl] * (1.0 / m)).argmax(0).to(dtype)
    return out


def argmax_labels(probs: Any) -> Any:
    """Label map of one member's probabilities ``[C, *spatial]``: argmax over classes.

    Ties go to the lowest class; uint8 labels (int32 above 256 classes), without the int64
    index array of ``np.argmax``.

    numpy arrays and CPU tensors go to the Rust core (float16/float32 read in place, GIL
    released); CUDA tensors are reduced on their device and come back as a tensor.

    Parameters
    ----------
    probs
        One member's softmax probabilities ``[C, *spatial]`` (float16 or float32; numpy array or
        torch tensor).

    Returns
    -------
    array
        uint8 (int32 above 256 classes) label map ``spatial``; a tensor for CUDA input.

    Examples
    --------
    >>> import numpy as np
    >>> argmax_labels(np.array([[0.9, 0.2], [0.1, 0.8]], dtype=np.float32)).tolist()
    [0, 1]
    """
    check_tensor_device(probs, "probs")
    if is_cuda_tensor(probs):
        c = probs.shape[0]
        flat = probs.detach().reshape(c, -1)
        return _torch_argmax(flat.float(), 1).reshape(tuple(probs.shape[1:]))
    a = as_prob_array(probs, "probs")
    return _native.probs_argmax(a, a.shape[0]).reshape(a.shape[1:])


def pixel_confidence(acc: EnsembleAccumulator, kind: ConfidenceKind = "pe") -> Any:
    """Pixel CONFIDENCE map (higher = more confident) from an accumulator.

    ``msr``: max_c p_bar; ``pe``: log C - H(p_bar); ``ee``: log C - mean_m H(p_m);
    ``mi``: -(H(p_bar) - mean_m H(p_m)). Natural log.

    Parameters
    ----------
    acc
        Accumulator holding at least one member.
    kind
        ``"msr"``, ``"pe"`` (default), ``"ee"`` or ``"mi"``.

    Returns
    -------
    array
        Confidence map (higher = more confident), shape ``spatial_shape`` (numpy array; a tensor on
        the torch backend).

    Examples
    --------
    >>> import numpy as np
    >>> from medtrust.uncertainty import EnsembleAccumulator, pixel_confidence
    >>> acc = EnsembleAccumulator()
    >>> acc.add(np.array([[1.0, 0.5], [0.0, 0.5]], dtype=np.float32))
    >>> np.round(pixel_confidence(acc, "pe").astype(float), 4).tolist()
    [0.6931, 0.0]
    """
    if not isinstance(acc, EnsembleAccumulator):
        raise DTypeError(f"acc must be an EnsembleAccumulator, got {type(acc).__name__}")
    if kind not in CONFIDENCE_KINDS:
        raise InvalidArgumentError(f"kind must be one of msr, pe, ee, mi, got {kind!r}")
    return acc.confidence_maps([kind])[0]
