"""Dask clusters for an atlas: the worker settings and an in-process LocalCluster that leaves the
caller's environment as it found it."""
from __future__ import annotations

import os
from contextlib import contextmanager


# What a LocalCluster's workers run with. A task runs in a worker thread, not a main thread:
# glibc gives that thread its own malloc arena, whose heaps are unmapped whenever a large tensor
# frees them, so optimization steps fault their activations in again (measured on a lone worker:
# about 1M page faults and 1.5 s of system time per unit, against 2 faults in a main thread). One
# arena per process (MALLOC_ARENA_MAX=1, set before the worker starts: malloc reads it once) keeps
# the freed memory warm, as frozen.keep_freed_memory does for a main thread, and Dask's sampling
# profiler (every 10 ms, for the dashboard, which the atlas does not start) is off. PyTorch's
# blocks of 2 MB and more go on transparent huge pages (THP_MEM_ALLOC_ENABLE, read once by torch):
# with both workers busy, a worker still faulted in 50-130 K fresh 4 KB pages per unit at 20-30 us
# each on these VMs (perf: the time is in clear_page under do_anonymous_page), about 3 s of system
# time; on huge pages a worker's later units fault nothing and its steps miss the TLB less. A
# worker's first unit pays for its huge pages once. Dask's own clocks tick slower: the event
# loop's blocked-loop monitor (20 ms -> 1 s), the system monitor (dashboard statistics, 500 ms ->
# 5 s) and the memory monitors of worker and nanny (100 ms -> 1 s: a unit's memory grows over
# seconds, not milliseconds); with both cores busy their wake-ups took a task's core from it
# (a worker's later units: 30.4 s wall on 28.7 s of CPU before, 28.3-28.9 s on 27.7-28.2 s
# after). Same bytes (tested). README: the same settings for `dask worker`.
WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_ARENA_MAX": 1,
                 "distributed.nanny.pre-spawn-environ.THP_MEM_ALLOC_ENABLE": 1,
                 "distributed.worker.profile.enabled": False,
                 "distributed.admin.tick.interval": "1s",
                 "distributed.admin.system-monitor.interval": "5s",
                 "distributed.worker.memory.monitor-interval": "1s"}


@contextmanager
def kept_environ():
    """``os.environ`` as it was, on exit. Dask's nanny writes its pre-spawn variables (one BLAS and
    OpenMP thread, one malloc arena, ...) into the environment of the process that holds a
    LocalCluster and never takes them back: every later child of that process (a notebook kernel,
    a test's subprocess) would compute on one thread, and t-SNE's clusters depend on that."""
    before = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


@contextmanager
def local_cluster(n: int):
    """A LocalCluster of ``n`` one-thread worker processes with :data:`WORKER_CONFIG`, closed on
    exit, leaving this process's environment as it found it (:func:`kept_environ`)."""
    import dask
    from distributed import LocalCluster

    with kept_environ():
        with dask.config.set(WORKER_CONFIG):
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        with cluster:
            yield cluster




CONNECT_TIMEOUT = 5.0  # seconds an atlas waits for a scheduler given by --scheduler


def connect(address: str, timeout: float = CONNECT_TIMEOUT):
    """A Dask ``Client`` of the scheduler at ``address``; a one-line ValueError within ``timeout``
    seconds when none answers there (distributed's own client would retry for 30 s and then
    raise a traceback)."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        raise ValueError(f"no Dask scheduler answers at {address} within {timeout:g} s "
                         f"({type(e).__name__}): start one with `dask scheduler`, or leave out --scheduler") from None
