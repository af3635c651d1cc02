"""An argument that cannot be copied across threads fails in the caller, naming the sparkle and
the tonic; the target catalyst is not affected and the application ends normally."""
from __future__ import annotations

import threading

import pytest

from tasktonic import ttCatalyst, ttTonic
from tests.conftest import run_app


class Target(ttTonic):
    """Runs on its own catalyst; records what it receives."""

    def __init__(self, log, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def ttsc__take(self, item, **options):
        self.log.append(("took", item, options))

    def ttsc__done(self):
        self.log.append(("done",))
        self.finish()


BAD_CALLS = {
    "lock in a list": ((["fine", threading.Lock()],), {}),
    "lock as keyword": (("fine",), {"guard": {"lock": threading.Lock()}}),
}


@pytest.mark.parametrize("bad", list(BAD_CALLS))
@pytest.mark.parametrize("caller", ["plain thread", "other catalyst"])
def test_an_uncopyable_argument_raises_in_the_caller_naming_sparkle_and_tonic(caller, bad):
    args, kwargs = BAD_CALLS[bad]
    log: list = []
    seen: dict = {}

    def call(target):
        """From a thread that is not the target's: a bad call, then good ones."""
        try:
            target.ttsc__take(*args, **kwargs)
        except TypeError as exc:
            seen["error"] = exc
        except BaseException as exc:  # the wrong kind of error
            seen["error"] = exc
        target.ttsc__take("after the error")
        target.ttsc__done()

    class Caller(ttTonic):
        def ttsc__call(self, target):
            seen["caller thread"] = threading.get_ident()
            call(target)
            self.finish()

    def starting():
        target = Target(log, name="the target tonic", catalyst=ttCatalyst(name="target's"))
        if caller == "plain thread":
            thread = threading.Thread(target=call, args=(target,), daemon=True)
            thread.start()
            seen["thread"] = thread
        else:
            Caller(catalyst=ttCatalyst(name="caller's")).ttsc__call(target)

    run_app(starting)
    if "thread" in seen:
        seen["thread"].join(30)
    error = seen["error"]
    assert type(error) is TypeError, repr(error)
    assert "ttsc__take" in str(error) and "'the target tonic'" in str(error), str(error)
    assert error.__cause__ is not None  # the copier's own complaint is kept
    # the target got nothing of the bad call and went on with the next ones
    assert log == [("took", "after the error", {}), ("done",)]
