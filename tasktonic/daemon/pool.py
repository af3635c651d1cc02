"""ThreadPool: a bounded set of daemon threads for the threading flavour.

Not ``concurrent.futures.ThreadPoolExecutor``: its threads are joined at interpreter exit, so
one payload that never returns would hang the process. A thread cannot be killed; these are
daemon threads, so such a payload is abandoned at exit (and reported when the application
finishes, see the threading runner).
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable

__all__ = ["ThreadPool"]


class ThreadPool:
    """Runs callables on at most ``size`` daemon threads, started as work arrives."""

    def __init__(self, size: int, name: str) -> None:
        if size < 1:
            raise ValueError(f"tasktonic: a thread pool needs at least one thread, got {size}")
        self.size = size
        self.name = name
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job()`` on a pool thread (it must not raise)."""
        with self._lock:
            start = self._idle == 0 and len(self._threads) < self.size
            if start:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self.name}-{len(self._threads)}")
                self._threads.append(thread)
            else:
                self._idle -= 1  # this job is that idle thread's
        self._jobs.put(job)
        if start:
            thread.start()

    def owns_current_thread(self) -> bool:
        """True on one of this pool's threads."""
        return threading.current_thread() in self._threads

    def shutdown(self) -> None:
        """Let every thread end once it is idle."""
        with self._lock:
            count = len(self._threads)
        for _ in range(count):
            self._jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()
            with self._lock:
                self._idle += 1
