"""Analyses off the request threads: a small bounded pool, a queue limit and a per-command timeout.

Bolt acknowledges a command on its own listener threads and hands the answer to a lazy listener;
the lazy listener only queues the work here and returns, so Bolt's threads (and the WSGI threads
that wait on them) are free for the next acknowledgement however long an analysis takes. At most
`workers` analyses run at once (they are CPU- and GIL-heavy: more at once would only slow the
acknowledgements down), at most `queue` wait; beyond that the asker is told the bot is busy. An
analysis that runs past `timeout` is answered with "this took too long" and its late result dropped.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

log = logging.getLogger(__name__)


class AnalysisPool:
    def __init__(self, workers: int = 2, queue: int = 64, timeout: float = 30.0):
        self.workers, self.queue, self.timeout = max(1, workers), max(1, queue), timeout
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="analysis")
        self._pending = 0
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], None], on_timeout: Callable[[], None], on_busy: Callable[[], None]) -> bool:
        """Run `work()` on the pool. Exactly one of work's own reply, `on_timeout()` or `on_busy()`
        reaches the user: `work` must call `claim()` (passed to it) before it replies."""
        with self._lock:
            if self._pending >= self.workers + self.queue:
                busy = True
            else:
                busy = False
                self._pending += 1
        if busy:
            log.warning("analysis pool full (%s running or queued): asker told to retry", self._pending)
            on_busy()
            return False
        done = threading.Lock()  # whoever takes it first (the answer or the timeout) replies

        def claim() -> bool:
            return done.acquire(blocking=False)

        def expire():
            if claim():
                log.warning("an analysis ran past %.0f s: answered with a timeout", self.timeout)
                on_timeout()

        timer = threading.Timer(self.timeout, expire)
        timer.daemon = True

        def run():
            try:
                work(claim)
            except Exception:
                log.exception("analysis failed")
            finally:
                timer.cancel()
                with self._lock:
                    self._pending -= 1

        timer.start()  # the clock runs from the queue: the asker waits the same either way
        self._executor.submit(run)
        return True
