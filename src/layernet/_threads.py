"""Loops over independent chunks of work, spread over threads, with the BLAS single-threaded.

A convolution over a batch is cut into chunks of whole images small enough
that each chunk's im2col stays in cache. Run one after another, each chunk's
GEMM would be split again over the BLAS's threads: one wait for those threads
per call, and with one core busy elsewhere every wait can last a time slice.
:func:`parallel_for` hands the chunks to threads instead, one chunk at a time
to whichever thread is free, with each GEMM on one thread, so the copies run
in parallel too and a thread that gets less of the CPU simply takes fewer
chunks.

It uses as many threads as numpy's BLAS is set to use (``OPENBLAS_NUM_THREADS``,
threadpoolctl, ...), and while a loop runs it sets that BLAS to one thread,
putting the count back when the last loop ends: numpy's OpenBLAS has no
per-thread setting, so a BLAS call that another thread of the program makes
in that time runs on one thread (with the same result). Where the BLAS is not
an OpenBLAS whose thread count can be read and set (checked once), the chunks
run one after another on the calling thread, with the BLAS threaded as usual.
"""

from __future__ import annotations

import ctypes
import glob
import itertools
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _BlasThreads:
    """The thread-count getter and setter of the OpenBLAS that numpy calls."""

    get: Callable[[], int]
    set: Callable[[int], None]


def _openblas_libraries() -> list[str]:
    """Paths of the OpenBLAS numpy may use: bundled with its wheel first, then any loaded one."""
    root = os.path.dirname(np.__file__)
    found = []
    for folder in (os.path.join(root, os.pardir, "numpy.libs"), os.path.join(root, ".dylibs")):
        found += sorted(glob.glob(os.path.join(folder, "*openblas*")))
    if sys.platform.startswith("linux"):  # a numpy built against a system or conda OpenBLAS
        try:
            with open("/proc/self/maps") as maps:
                paths = {line.split()[-1] for line in maps if "openblas" in line}
        except OSError:
            paths = set()
        found += sorted(p for p in paths if "scipy" not in p and p.startswith("/"))
    return found


def _find_blas_threads() -> _BlasThreads | None:
    """numpy's OpenBLAS thread controls, or ``None`` where they cannot be found."""
    for path in _openblas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "")):
            getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if getter is None or setter is None:
                continue
            getter.restype, getter.argtypes = ctypes.c_int, []
            setter.restype, setter.argtypes = None, [ctypes.c_int]
            return _BlasThreads(getter, setter)
    return None


_LOCK = threading.Lock()
"""Guards the lookup, the pool and the count of loops running."""

_controls: _BlasThreads | None = None
_looked_up = False
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_running = 0
"""Loops and :func:`one_blas_thread` blocks running now, in any thread: the BLAS is on
one thread while this is above 0, and gets its count back when it returns to 0."""
_saved = 1
"""The BLAS thread count from before the first of those running now."""


def _blas_threads() -> _BlasThreads | None:
    global _controls, _looked_up
    if not _looked_up:
        with _LOCK:
            if not _looked_up:
                _controls = _find_blas_threads()
                _looked_up = True
    return _controls


def workers() -> int:
    """How many threads :func:`parallel_for` would use now (1: the calling thread alone)."""
    controls = _blas_threads()
    if controls is None:
        return 1
    with _LOCK:  # while loops run the BLAS reads 1: their count is the one saved
        return max(1, _saved if _running else controls.get())


def _forget_after_fork() -> None:
    """A forked child has none of the parent's threads: start without pool or running loops."""
    global _LOCK, _pool, _pool_size, _running
    _LOCK = threading.Lock()
    _pool, _pool_size, _running = None, 0, 0


os.register_at_fork(after_in_child=_forget_after_fork)


def _enter(controls: _BlasThreads, *, pool: bool) -> int:
    """Count one more holder, set the BLAS to one thread; return its count from before.

    ``pool``: make sure the pool has a thread for every BLAS thread but one.
    """
    global _pool, _pool_size, _running, _saved
    with _LOCK:
        if _running == 0:
            _saved = max(1, controls.get())
            controls.set(1)
        _running += 1
        if pool and _pool_size < _saved - 1:
            if _pool is not None:  # its threads end once idle
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(_saved - 1, "layernet"), _saved - 1
        return _saved


def _leave(controls: _BlasThreads) -> None:
    """One holder fewer: the last one sets the BLAS's thread count back."""
    global _running
    with _LOCK:
        _running -= 1
        if _running == 0:
            controls.set(_saved)


WAKES = 1 << 18
"""Multiply-adds above which OpenBLAS runs a product on several threads (measured: 2**18
stays on one, 2**19 wakes the others)."""

WORTH = 1 << 22
"""Multiply-adds up to which a product is left on one thread (see :func:`one_blas_thread`)."""


def one_thread() -> bool:
    """Whether numpy's BLAS is on one thread now for a loop or block of this module."""
    return _running > 0


_last_loop = -math.inf
"""``time.monotonic()`` when the last loop over several threads ended."""

RECENT = 1.0
"""Seconds for which a loop over several threads counts as recent (see :func:`loops_nearby`)."""


def loops_nearby() -> bool:
    """Whether a loop over several threads ended within the last ``RECENT`` seconds.

    Where loops run (a convolutional model's steps), the idle threads that a
    threaded product wakes in OpenBLAS would spin next to theirs; elsewhere
    (a model of dense layers alone) they spin next to nothing of ours, and the
    product may as well use them.
    """
    return time.monotonic() - _last_loop < RECENT


def one_thread_pays(macs: int) -> bool:
    """Whether a product of ``macs`` multiply-adds should run inside :func:`one_blas_thread`.

    Between ``WAKES`` and ``WORTH``, while :func:`loops_nearby`, unless the
    BLAS is on one thread already.
    """
    return WAKES < macs <= WORTH and _running == 0 and loops_nearby()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with numpy's OpenBLAS on one thread, then set its count back.

    For products of ``WAKES`` to ``WORTH`` multiply-adds (about 0.1 ms on one
    core) while :func:`loops_nearby`: OpenBLAS would split them over its
    threads, which gains little at that size, and its idle threads then spin
    for about 0.1 s, each on a core of its own, competing with the threads of
    :func:`parallel_for` (the `cifar` benchmark's ``Dense(4096, 10)`` head cost
    its convolutions about 10%). A no-op where the BLAS's thread count cannot
    be set.
    """
    controls = _blas_threads()
    if controls is None:
        yield
        return
    _enter(controls, pool=False)
    try:
        yield
    finally:
        _leave(controls)


def parallel_for(count: int, body: Callable[[int, int], object]) -> None:
    """Call ``body(worker, i)`` for every ``i`` in ``range(count)``, each exactly once.

    ``worker`` (from 0) names the thread running the call: no two calls with
    the same ``worker`` run at once, so it can pick per-thread buffers. The
    calling thread is worker 0 and takes part. The order in which the ``i``
    run, and which worker runs which, vary: ``body`` must write only what
    belongs to its ``i``. The first exception raised stops the loop (calls
    already started finish) and is raised here once every thread is done (an
    interrupt that arrives while this thread waits is raised at once).
    """
    global _last_loop
    controls = _blas_threads()
    if count < 2 or controls is None or workers() < 2:
        for i in range(count):
            body(0, i)
        return
    threads = min(count, _enter(controls, pool=True))
    try:
        items = itertools.count()  # next() on it is atomic: each i is handed out once
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            while not errors:
                i = next(items)
                if i >= count:
                    return
                try:
                    body(worker, i)
                except BaseException as error:
                    errors.append(error)
                    return

        assert _pool is not None
        helpers: list[Future[None]] = [_pool.submit(work, w) for w in range(1, threads)]
        try:
            work(0)
            for helper in helpers:
                if not helper.cancel():  # one that has started: wait for it
                    helper.result()
        except BaseException as error:  # an interrupt while waiting: stop the helpers
            errors.append(error)
            raise
        if errors:
            raise errors[0]
    finally:
        _leave(controls)
        _last_loop = time.monotonic()


def batch_chunks(batch: int, per_item: int, limit: int) -> list[slice]:
    """``range(batch)`` cut into equal runs, as few as keep each within ``limit`` bytes.

    ``per_item``: the bytes one item (one image) needs; a run holds one item
    at least, and only the last run may be shorter. ``[]`` for an empty batch.
    The cut depends on these numbers alone, never on the threads.
    """
    per_run = max(1, limit // max(per_item, 1))
    count = max(1, -(-batch // per_run))
    size = max(1, -(-batch // count))
    return [slice(i, min(i + size, batch)) for i in range(0, batch, size)]


_PIECE = 1 << 18
"""The numbers in one piece of an elementwise pass (see :func:`elementwise`)."""

SPLIT = 2 * _PIECE
"""Elementwise passes over fewer numbers than this are never cut (a cheap first test)."""


def splits(size: int) -> bool:
    """Whether :func:`elementwise` would cut a pass over ``size`` numbers into pieces."""
    return size >= SPLIT and workers() >= 2


def elementwise(size: int, body: Callable[[slice], object]) -> None:
    """Call ``body(s)`` for slices ``s`` that cut ``range(size)`` into pieces, over threads.

    For one elementwise pass over ``size`` numbers (a ReLU over a batch of
    feature maps): pieces of about ``_PIECE`` handed out by :func:`parallel_for`
    where :func:`splits` says so (memory-bound passes ran about 1.7x faster on
    two threads), else one call with the whole range.
    """
    if not splits(size):
        body(slice(0, size))
        return
    count = size // _PIECE
    bounds = [size * i // count for i in range(count + 1)]
    parallel_for(count, lambda worker, i: body(slice(bounds[i], bounds[i + 1])))
