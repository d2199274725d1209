"""parallel_for: every index once, per-thread worker ids, errors, the BLAS thread count, fork."""

from __future__ import annotations

import itertools
import math
import multiprocessing
import sys
import threading
import time

import numpy as np
import pytest

from conftest import FakeBlas
from layernet import Dense, ReLU, _threads


def test_every_index_runs_once_and_no_worker_runs_two_at_once(blas: FakeBlas) -> None:
    calls: list[int] = []
    busy: set[int] = set()
    overlaps: list[int] = []
    threads: set[int] = set()
    lock = threading.Lock()

    def body(worker: int, i: int) -> None:
        with lock:
            if worker in busy:
                overlaps.append(worker)
            busy.add(worker)
            threads.add(threading.get_ident())
        time.sleep(0.001)  # long enough for the second thread to take items too
        with lock:
            busy.discard(worker)
            calls.append(i)

    _threads.parallel_for(40, body)
    assert sorted(calls) == list(range(40))
    assert not overlaps
    assert len(threads) == 2


def test_the_blas_runs_on_one_thread_inside_and_gets_its_count_back(blas: FakeBlas) -> None:
    seen: list[int] = []
    _threads.parallel_for(6, lambda worker, i: seen.append(blas.get()))
    assert seen == [1] * 6
    assert blas.threads == 2
    assert blas.history == [1, 2]
    assert _threads.workers() == 2


def test_one_item_or_one_blas_thread_runs_on_the_calling_thread(blas: FakeBlas) -> None:
    me = threading.get_ident()
    where: list[tuple[int, int]] = []
    _threads.parallel_for(1, lambda worker, i: where.append((worker, threading.get_ident())))
    blas.threads = 1
    _threads.parallel_for(5, lambda worker, i: where.append((worker, threading.get_ident())))
    assert where == [(0, me)] * 6
    assert blas.history == []  # the BLAS was never touched


def test_the_first_error_stops_the_loop_and_is_raised_after_every_thread_is_done(
    blas: FakeBlas,
) -> None:
    started: list[int] = []
    finished: list[int] = []

    def body(worker: int, i: int) -> None:
        started.append(i)
        if i == 3:
            raise ValueError("item 3 is bad")
        time.sleep(0.002)
        finished.append(i)

    with pytest.raises(ValueError, match="item 3 is bad"):
        _threads.parallel_for(100, body)
    assert len(started) < 100  # the loop stopped
    assert sorted(finished) == sorted(i for i in started if i != 3)  # nothing left running
    assert blas.threads == 2


def test_loops_on_two_threads_at_once_restore_the_count_when_the_last_ends(
    blas: FakeBlas,
) -> None:
    results: dict[str, list[int]] = {"a": [], "b": []}

    def run(name: str) -> None:
        def body(worker: int, i: int) -> None:
            time.sleep(0.0005)
            results[name].append(i)

        _threads.parallel_for(30, body)

    runners = [threading.Thread(target=run, args=(name,)) for name in results]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    assert all(sorted(done) == list(range(30)) for done in results.values())
    assert blas.threads == 2
    assert blas.history[0] == 1
    assert blas.history[-1] == 2


def _child_runs_a_loop(queue: multiprocessing.Queue[list[int]]) -> None:
    out: list[int] = []
    _threads.parallel_for(8, lambda worker, i: out.append(i))
    queue.put(sorted(out))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_forked_child_starts_its_own_threads() -> None:
    """The parent's pool threads do not exist in a forked child: the child makes its own."""
    _threads.parallel_for(4, lambda worker, i: None)  # the parent's pool, if any, exists
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[int]] = context.Queue()
    child = context.Process(target=_child_runs_a_loop, args=(queue,))
    child.start()
    assert queue.get(timeout=60) == list(range(8))
    child.join(timeout=60)
    assert child.exitcode == 0


def test_the_real_blas_count_is_set_and_restored() -> None:
    """Against numpy's own OpenBLAS, where layernet finds it (numpy's wheels bundle one)."""
    controls = _threads._blas_threads()
    if controls is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS whose thread count layernet can set")
    before = controls.get()
    controls.set(2)
    try:
        inside: list[int] = []

        def body(worker: int, i: int) -> None:
            inside.append(controls.get())

        _threads.parallel_for(4, body)
        assert inside == [1] * 4
        assert controls.get() == 2
    finally:
        controls.set(before)


def test_elementwise_cuts_a_long_range_into_pieces_that_cover_it_once(blas: FakeBlas) -> None:
    size = 5 * _threads._PIECE + 7
    pieces: list[tuple[int, int]] = []
    _threads.elementwise(size, lambda s: pieces.append((s.start, s.stop)))
    pieces.sort()
    assert len(pieces) == 5
    assert pieces[0][0] == 0
    assert pieces[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    short: list[slice] = []
    _threads.elementwise(_threads._PIECE, short.append)
    assert short == [slice(0, _threads._PIECE)]


def test_relu_over_threads_is_the_plain_formula(blas: FakeBlas) -> None:
    """A large ReLU runs in pieces, bit for bit as one pass (NaN, -0.0 and 0 included)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 8, 128, 160)).astype(np.float32)
    x[0, 0, 0, :3] = [np.nan, 0.0, -0.0]
    g = rng.normal(size=x.shape).astype(np.float32)
    layer = ReLU()
    y = layer.forward(x, training=True)
    dx = layer.backward(g)
    assert blas.history == [1, 2, 1, 2]  # both passes went over threads
    np.testing.assert_array_equal(y, np.maximum(x, np.float32(0.0)))
    np.testing.assert_array_equal(dx, g * (x > 0))
    assert y.dtype == dx.dtype == np.float32


def test_a_mid_sized_dense_product_runs_on_one_thread_where_loops_ran_lately(
    blas: FakeBlas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between WAKES and WORTH multiply-adds, once per call; outside that band, untouched."""
    rng = np.random.default_rng(0)
    layer = Dense(512, 10, rng=0)
    x = rng.normal(size=(64, 512))  # 327,680 multiply-adds: OpenBLAS would wake its threads
    g = rng.normal(size=(64, 10))
    monkeypatch.setattr(_threads, "_last_loop", -math.inf)
    layer.forward(x, training=True)  # no loop of layernet's ran: the BLAS is left alone
    assert blas.history == []
    _threads.parallel_for(2, lambda worker, i: None)
    blas.history.clear()
    y = layer.forward(x, training=True)
    dx = layer.backward(g)
    layer.backward_parameters(g)
    assert blas.history == [1, 2] * 3
    np.testing.assert_array_equal(y, x @ layer.weight.value + layer.bias.value)
    np.testing.assert_array_equal(dx, g @ layer.weight.value.T)
    np.testing.assert_array_equal(layer.weight.grad, x.T @ g)
    blas.history.clear()
    layer.forward(x[:8], training=True)  # 40,960: stays on one thread anyway
    layer.backward(g[:8])
    wide = Dense(512, 4096, rng=0)
    wide.forward(x, training=True)  # 134 million: worth the threads
    assert blas.history == []
    monkeypatch.setattr(_threads, "_last_loop", time.monotonic() - _threads.RECENT)
    layer.forward(x, training=True)  # the last loop is no longer recent
    assert blas.history == []


def test_one_blas_thread_blocks_nest_and_restore_the_count(blas: FakeBlas) -> None:
    with _threads.one_blas_thread():
        assert _threads.one_thread()
        with _threads.one_blas_thread():
            assert blas.threads == 1
        assert blas.threads == 1
    assert not _threads.one_thread()
    assert blas.threads == 2
    assert blas.history == [1, 2]
