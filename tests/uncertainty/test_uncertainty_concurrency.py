"""Concurrent EnsembleAccumulator.add (issue 10 item 1): no member may be lost."""

from __future__ import annotations

import pickle
import threading

import numpy as np

from medtrust.uncertainty import EnsembleAccumulator

N_THREADS = 8
PER_THREAD = 50


def _members(n: int, c: int = 3, shape: tuple[int, ...] = (6, 7, 5)) -> list[np.ndarray]:
    rng = np.random.default_rng(10)
    out = []
    for _ in range(n):
        logits = rng.normal(size=(c, *shape))
        p = np.exp(logits) / np.exp(logits).sum(0, keepdims=True)
        out.append(p.astype(np.float32))
    return out


def test_eight_threads_times_fifty_members_match_the_serial_sums() -> None:
    members = _members(N_THREADS * PER_THREAD)
    serial = EnsembleAccumulator()
    for m in members:
        serial.add(m)

    acc = EnsembleAccumulator()
    start = threading.Barrier(N_THREADS)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        start.wait()  # every thread races for the very first member (state creation)
        try:
            for m in members[k::N_THREADS]:
                acc.add(m)
                # readers interleaved with writers must not collide on the state either
                if len(errors) == 0 and k % 2:
                    acc.max_prob()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert acc.n_members == serial.n_members == N_THREADS * PER_THREAD
    # float32 sums in another order: equal to rounding, and the oracle is plain numpy
    oracle = np.mean(np.stack(members), axis=0)
    np.testing.assert_allclose(acc.mean_probs(), oracle, atol=2e-5)
    np.testing.assert_allclose(acc.mean_probs(), serial.mean_probs(), atol=2e-5)
    np.testing.assert_allclose(acc.expected_entropy(), serial.expected_entropy(), atol=2e-5)


def test_accumulator_pickles_without_its_lock() -> None:
    acc = EnsembleAccumulator()
    acc.add(_members(1)[0])
    copy = pickle.loads(pickle.dumps(acc))
    copy.add(_members(2)[1])
    assert copy.n_members == 2 and acc.n_members == 1
