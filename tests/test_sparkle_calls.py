"""Every way of calling a sparkle method queues the same work order, in both twins."""
from __future__ import annotations

import pytest

from tasktonic import ttTonic
from tasktonic.distiller import ttDistiller


class Recorder(ttTonic):
    def ttsc__take(self, *args, **kwargs):
        self.calls.append((args, kwargs))

    def ttse__on_start(self):
        self.calls = []


def test_bound_unbound_keyword_and_many_positional_calls_all_queue():
    dist = ttDistiller()
    rec = Recorder()
    dist.sparkle()
    bound = rec.ttsc__take
    assert getattr(bound.__func__, "_tt_sparkle_method", False)
    assert bound.__name__ == "ttsc__take"
    bound(1)
    Recorder.ttsc__take(rec, 2)                # explicit class call on the exact class queues
    rec.ttsc__take(3, key="v")
    rec.ttsc__take(*range(12))                 # more positionals than the fast call path takes
    rec.ttsc__take(**{"a": 1, "b": [2]})
    assert rec.calls == []                     # nothing ran yet: calling only queues
    dist.sparkle()
    assert rec.calls == [((1,), {}), ((2,), {}), ((3,), {"key": "v"}),
                         (tuple(range(12)), {}), ((), {"a": 1, "b": [2]})]
    dist.finish_distiller()


def test_a_sparkle_method_without_its_tonic_is_a_type_error():
    dist = ttDistiller()
    with pytest.raises(TypeError):
        Recorder.ttsc__take()
    dist.finish_distiller()
