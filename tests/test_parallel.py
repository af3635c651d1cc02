"""Many threads at one catalyst, and catalysts passing work around a ring: nothing lost, each
sender's orders in the order sent. Under the GIL these check the inbox's logic; on a
free-threaded interpreter (``.ci/run`` runs them there at full size, several times) the threads
really run at once.

``TASKTONIC_STRESS_SENDS`` sets the sparkles per sender thread (default 25,000; the issue's
figure is 250,000) and ``TASKTONIC_STRESS_REPEAT`` how many times each test runs.
"""
from __future__ import annotations

import os
import sys
import threading
from typing import Any

import pytest

from tasktonic import ttCatalyst, ttTonic
from tests.conftest import run_app

SENDS = int(os.environ.get("TASKTONIC_STRESS_SENDS", "25000"))
REPEAT = int(os.environ.get("TASKTONIC_STRESS_REPEAT", "1"))
SENDERS = 8
RING = 8
TIMEOUT = max(60.0, SENDS / 1000)


def gil_state() -> str:
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return "GIL" if is_enabled is None or is_enabled() else "free-threaded"


@pytest.mark.parametrize("run", range(REPEAT))
def test_eight_threads_into_one_tonic_lose_nothing_and_keep_their_order(run: int) -> None:
    """8 plain threads each send SENDS sparkles to one tonic on a worker catalyst."""
    out: dict[str, Any] = {}
    go = threading.Event()

    class Sink(ttTonic):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.last = [-1] * SENDERS
            self.count = 0
            self.out_of_order: list[tuple[int, int, int]] = []

        def ttsc__take(self, sender: int, n: int) -> None:
            if n != self.last[sender] + 1:
                self.out_of_order.append((sender, self.last[sender], n))
            self.last[sender] = n
            self.count += 1
            if self.count == SENDERS * SENDS:
                out["last"], out["out of order"] = list(self.last), self.out_of_order
                self.finish()

    def send(sink: Sink, sender: int) -> None:
        go.wait()
        take = sink.ttsc__take
        for n in range(SENDS):
            take(sender, n)

    def starting() -> None:
        sink = Sink(catalyst=ttCatalyst(name="sink"))
        for sender in range(SENDERS):
            threading.Thread(target=send, args=(sink, sender), daemon=True).start()
        go.set()

    run_app(starting, timeout=TIMEOUT)
    assert out["out of order"] == [], f"{gil_state()}: {out['out of order'][:5]}"
    assert out["last"] == [SENDS - 1] * SENDERS


@pytest.mark.parametrize("run", range(REPEAT))
def test_a_ring_of_eight_catalysts_passes_every_token_in_order(run: int) -> None:
    """8 tonics on 8 catalysts in a ring; each starts a token that goes round SENDS // 8 hops
    (at least 100): every tonic sees each token's hops in increasing order, and all arrive."""
    hops = max(100, SENDS // RING)
    out: dict[int, Any] = {}
    finished: list[int] = []

    class Station(ttTonic):
        def __init__(self, index: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.index = index
            self.next: Station | None = None
            self.seen: dict[int, int] = {}
            self.out_of_order: list[tuple[int, int, int]] = []
            self.passed = 0

        def ttsc__link(self, following: Station) -> None:
            self.next = following
            self.ttsc__token(self.index, 0)

        def ttsc__token(self, token: int, hop: int) -> None:
            if hop <= self.seen.get(token, -1):
                self.out_of_order.append((token, self.seen[token], hop))
            self.seen[token] = hop
            self.passed += 1
            if hop + 1 < hops:
                assert self.next is not None
                self.next.ttsc__token(token, hop + 1)
            else:
                self.base.ttse__token_done(token)

        def ttsc__collect(self, ring: Any) -> None:
            ring.ttse__collected(self.index, self.passed, self.out_of_order)

    class Ring(ttTonic):
        def ttse__on_start(self) -> None:
            self.stations = [Station(i, catalyst=ttCatalyst(name=f"ring{i}"))
                             for i in range(RING)]
            for i, station in enumerate(self.stations):
                station.ttsc__link(self.stations[(i + 1) % RING])

        def ttse__token_done(self, token: int) -> None:
            finished.append(token)
            if len(finished) == RING:
                self.ttsc__report()

        def ttsc__report(self) -> None:
            for station in self.stations:
                station.ttsc__collect(self)

        def ttse__collected(self, index: int, passed: int, out_of_order: list) -> None:
            out[index] = (passed, out_of_order)
            if len(out) == RING:
                self.finish()

    run_app(Ring, timeout=TIMEOUT)
    assert sorted(finished) == list(range(RING))
    assert all(out_of_order == [] for _, out_of_order in out.values()), out
    assert sum(passed for passed, _ in out.values()) == RING * hops
