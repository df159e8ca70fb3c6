"""Read-ahead: prepare the next few items of a sequence in a worker thread while the caller
works on the current one.

AEDAT 4.0 packets are decompressed (lz4 and zstandard release the GIL while they work) while the
events of the previous packet are converted (a Numba kernel compiled with ``nogil``), so on a
machine with a free core a whole-file read takes about as long as the slower of the two rather
than their sum. Items are produced and consumed in order, and only ``depth`` items are in flight,
so memory stays bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor


def read_ahead(items: Iterable, work: Callable, depth: int = 2) -> Iterator[tuple[object, Future]]:
    """Yield ``(item, future of work(item))`` for every item, in order.

    ``work`` runs in one worker thread, up to ``depth`` items ahead of the item last yielded;
    ``items`` is iterated in the calling thread (so it may read a file that ``work`` must not
    touch). An exception raised by ``items`` reaches the caller only after the items before it
    have been yielded, so a reader still delivers the data before a damaged part. When the caller
    stops early, the work not started is cancelled and the thread is joined.
    """
    pending: deque[tuple[object, Future]] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aersim-read-ahead") as pool:
        try:
            failure = None
            try:
                for item in items:
                    pending.append((item, pool.submit(work, item)))
                    if len(pending) > depth:
                        yield pending.popleft()
            except Exception as exc:  # delivered after the items before it
                failure = exc
            while pending:
                yield pending.popleft()
            if failure is not None:
                raise failure
        finally:
            for _, future in pending:
                future.cancel()
