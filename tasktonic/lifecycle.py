"""The life of an essence, in one place: INIT -> ACTIVE -> FINISHING -> COMPLETED.

Every essence (tonic, catalyst, timer, service) goes through these phases and every transition
is written here; the essence classes only contribute small hooks.

* INIT (``construct``): the essence gets its ledger id and its base; a tonic gets its catalyst,
  which *hosts* it from this moment on, and an application tonic is counted. A catalyst that
  has decided to finish hosts nothing new: creating a tonic on it is a ``RuntimeError``.
* ACTIVE (``activate``): ``__init__`` succeeded. The essence joins its base's infusions (a
  finishing base ends it at once) and a tonic's ``ttse__on_start`` is queued. A finish asked
  for while the essence was still being built is carried out now.
* ``__init__`` raised (``abort``): straight to COMPLETED, leaving nothing behind: the tonic's
  queued sparkles never run, its timers never fire, the tonics it created are finished, its
  catalyst unhosts it, a catalyst's thread never starts (what it hosted is discarded).
* FINISHING (``begin_finish``, on the tonic's own thread): resources are released, infusions
  finish (a service it uses only loses it as a base), a catalyst finishes what it hosts and the
  main catalyst every other catalyst.
* COMPLETED (``check_complete``, once nothing is pending): the active state is left (its exit
  hook runs), ``ttse__on_finished`` runs, the essence leaves the ledger, its base and catalyst
  are told, and from then on its sparkles are dropped with a debug line.

This module owns the lifecycle fields of every essence (``_tt_lc``, ``_tt_infusions``,
``_tt_hosted`` of a catalyst, ``_tt_finish_requested``): only it changes them; other modules read
the phase as ``essence.phase`` / ``essence.finished``.

One lock (``_lock``) guards what several threads touch: hosting, the application count, a
catalyst's or a service's decision to finish, and handing out services. It is never held while
user code runs; each decision it guards is taken once, here.

The hooks an essence class may extend: ``_tt_activated()`` (after ACTIVE), ``_tt_releasing()``
(once, when finishing begins or construction failed), ``_tt_pending()`` (what finishing still
waits for) and ``_tt_completed()`` (once, last, on the owner's thread).
"""
from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import _context
from .ledger import ttLedger

__all__ = ["Phase", "LC_INIT", "LC_ACTIVE", "LC_FINISHING", "LC_COMPLETED", "construct",
           "access_service", "activate", "abort", "request_finish", "begin_finish",
           "check_complete", "add_infusion", "admitting_catalyst", "detach", "reattach",
           "infusion_completed", "host", "move", "unhost", "release_service_base",
           "application_started", "application_idle"]

_log = logging.getLogger("tasktonic")

LC_INIT, LC_ACTIVE, LC_FINISHING, LC_COMPLETED = range(4)


class Phase(enum.IntEnum):
    """Where an essence is in its life."""

    INIT = LC_INIT
    ACTIVE = LC_ACTIVE
    FINISHING = LC_FINISHING
    COMPLETED = LC_COMPLETED


_lock = threading.RLock()


# -- construction ----------------------------------------------------------------------------
def construct(cls: Any, base: Any, args: tuple, kwargs: dict) -> Any:
    """Build one essence: identity, ``__init__``, then ACTIVE (or nothing left if it raised)."""
    essence = cls.__new__(cls)
    essence._tt_pre_init(base)
    _count(essence, +1)
    stack = _context.building()
    stack.append(essence)
    try:
        essence.__init__(*args, **kwargs)
    except BaseException:
        stack.remove(essence)
        abort(essence)
        raise
    stack.remove(essence)
    activate(essence)
    return essence


def activate(essence: Any) -> None:
    with _lock:
        essence._tt_lc = LC_ACTIVE
        requested = essence._tt_finish_requested
    essence._tt_activated()  # first: a tonic's on_start runs before a finish asked below
    if essence.base is not None:
        add_infusion(essence.base, essence)
    if requested:
        essence.finish()


def abort(essence: Any) -> None:
    """``__init__`` raised: complete at once, run nothing more, leave nothing behind."""
    with _lock:
        essence._tt_lc = LC_COMPLETED
    _end_unrun(essence, tell_base=False)


def _end_unrun(essence: Any, tell_base: bool, leave_catalyst: bool = True) -> None:
    """The end of an essence whose sparkles never ran (its ``__init__``, or its catalyst's,
    raised): released, what a catalyst hosts discarded, out of the ledger, infusions ended."""
    essence._tt_releasing()
    if essence._tt_is_catalyst:
        with _lock:
            hosted = list(essence._tt_hosted)
            essence._tt_hosted.clear()
        for tonic in hosted:
            with _lock:
                if tonic._tt_lc == LC_COMPLETED:
                    continue
                tonic._tt_lc = LC_COMPLETED
            _end_unrun(tonic, tell_base=True, leave_catalyst=False)  # its catalyst is gone
    _leave(essence, tell_base, leave_catalyst)
    for infusion in reversed(essence.infusions):
        _end_infusion(essence, infusion)


# -- hosting and the application count --------------------------------------------------------
def _counts_as_app(essence: Any) -> bool:
    """Application tonics keep the application alive; services and the main catalyst don't."""
    return essence._tt_is_tonic and not essence._tt_is_service and essence.id != 0


def host(catalyst: Any, tonic: Any) -> None:
    """``catalyst`` runs ``tonic`` from now on (any thread); refused once it is finishing."""
    with _lock:
        if catalyst._tt_lc >= LC_FINISHING:
            raise RuntimeError(f"tasktonic: cannot create {type(tonic).__name__} on catalyst "
                               f"{catalyst.name!r}: that catalyst is "
                               f"{Phase(catalyst._tt_lc).name.lower()}")
        catalyst._tt_hosted[tonic] = None


@contextmanager
def admitting_catalyst(catalyst: Any) -> Iterator[None]:
    """A new catalyst joins the application (registered inside), unless it is ending."""
    with _lock:
        main = ttLedger().main_catalyst
        if main is not None and main._tt_lc >= LC_FINISHING:
            raise RuntimeError(f"tasktonic: cannot create catalyst {type(catalyst).__name__}: "
                               f"the application is {Phase(main._tt_lc).name.lower()}")
        yield


def move(tonic: Any, catalyst: Any) -> None:
    """A tonic being built chose another catalyst than its base's (``catalyst=``)."""
    old = tonic.catalyst
    host(catalyst, tonic)
    tonic._tt_set_catalyst(catalyst)
    unhost(old, tonic, finished=False)


def unhost(catalyst: Any, tonic: Any, finished: bool = True) -> None:
    """``tonic`` no longer runs on ``catalyst``. A worker catalyst whose last tonic *finished*
    finishes too (one that only saw a tonic fail to build, or move away, does not)."""
    if not catalyst.on_own_thread():
        catalyst._ttss__unhost(tonic, finished)  # the catalyst decides on its own thread
        return
    with _lock:
        hosted = catalyst._tt_hosted
        if tonic not in hosted:
            return
        del hosted[tonic]
        auto = (finished and not hosted and catalyst._tt_lc == LC_ACTIVE and catalyst.id != 0
                and not catalyst._tt_is_service)
        if auto:
            catalyst._tt_lc = LC_FINISHING
    if auto:
        _finishing_work(catalyst)
    else:
        check_complete(catalyst)


def _count(essence: Any, delta: int) -> None:
    if not _counts_as_app(essence):
        return
    ledger = ttLedger()
    with _lock:
        idle = ledger.count_app_tonic(delta) == 0 and delta < 0
        main = ledger.main_catalyst
    if idle and main is not None and ledger.auto_finish:
        main._ttss__app_idle()


def application_started(main: Any, auto_finish: bool = True) -> None:
    """The starting tonics exist: from now on an application without tonics ends."""
    ledger = ttLedger()
    with _lock:
        ledger.auto_finish = auto_finish
        idle = ledger.app_tonics == 0
    if idle and auto_finish:
        main._ttss__app_idle()


def application_idle(main: Any) -> None:
    """On the main catalyst's thread: finish the application if it still has no tonic."""
    with _lock:
        if ttLedger().app_tonics != 0 or main._tt_lc != LC_ACTIVE:
            return
        main._tt_lc = LC_FINISHING
    _finishing_work(main)


# -- finishing -------------------------------------------------------------------------------
def request_finish(essence: Any) -> bool:
    """Note a finish asked for during INIT; True when the caller should go on finishing."""
    with _lock:
        phase: int = essence._tt_lc
        if phase == LC_INIT:
            essence._tt_finish_requested = True
            return False
        return phase == LC_ACTIVE


def begin_finish(essence: Any) -> None:
    """ACTIVE -> FINISHING, on the essence's own thread; a no-op in any other phase."""
    with _lock:
        if essence._tt_lc != LC_ACTIVE:
            return
        essence._tt_lc = LC_FINISHING
    _finishing_work(essence)


def _finishing_work(essence: Any) -> None:
    essence._tt_log_lifecycle("finishing")
    essence._tt_releasing()
    for infusion in reversed(essence.infusions):
        _end_infusion(essence, infusion)
    if essence._tt_is_catalyst:
        with _lock:
            hosted = list(essence._tt_hosted)
        for tonic in hosted:
            tonic.finish()
        if essence.id == 0:
            with _lock:
                others = ttLedger().catalysts()
            for other in others:
                if other is not essence:
                    other.finish()
    check_complete(essence)


def _end_infusion(base: Any, infusion: Any) -> None:
    if base in infusion.service_bases:
        base._tt_infusions.pop(infusion, None)
        infusion._ttss__remove_service_base(base)
    else:
        infusion.finish()


def add_infusion(base: Any, infusion: Any) -> None:
    """``infusion`` was created by ``base`` (or uses it as a service); a finishing base ends it."""
    base._tt_infusions[infusion] = None
    if base._tt_lc >= LC_FINISHING:
        _end_infusion(base, infusion)


def infusion_completed(base: Any, infusion: Any) -> None:
    """On ``base``'s thread: one of its infusions has completed. A tonic that opts in with
    ``_tt_auto_finish_without_infusions = True`` (TaskTonic 0.2.4's default) finishes once its
    last child tonic has (timers and the services it uses do not keep it)."""
    base._tt_infusions.pop(infusion, None)
    if (base._tt_lc == LC_ACTIVE and base._tt_auto_finish_without_infusions
            and infusion._tt_is_tonic and infusion.base is base
            and not any(e._tt_is_tonic and e.base is base for e in base._tt_infusions)):
        base.finish()
    check_complete(base)


def check_complete(essence: Any) -> None:
    """Complete a finishing essence once nothing is pending."""
    if essence._tt_lc != LC_FINISHING or essence._tt_pending():
        return
    essence._tt_finished_hooks()
    with _lock:
        if essence._tt_lc != LC_FINISHING:
            return
        essence._tt_lc = LC_COMPLETED
    _leave(essence, tell_base=True)
    essence._tt_completed()


def _leave(essence: Any, tell_base: bool, leave_catalyst: bool = True) -> None:
    """The common end of every essence: out of the ledger, base and catalyst told, uncounted.

    ``tell_base`` is False for a failed construction: the base never knew it, and its
    catalyst must not take it for a finished tonic either."""
    if essence._tt_is_tonic:
        essence._tt_close_sparkles()
    ttLedger().unregister(essence)
    essence._tt_log_lifecycle("finished")
    if tell_base and essence.base is not None:
        essence.base._tt_infusion_completed(essence)
    catalyst = essence.catalyst if essence._tt_is_tonic else None
    if leave_catalyst and catalyst is not None and catalyst is not essence:
        unhost(catalyst, essence, finished=tell_base)
    _count(essence, -1)


def detach(essence: Any) -> None:
    """A fired single shot: out of the ledger and its base's infusions until ``reattach``."""
    ttLedger().unregister(essence)
    essence.base._tt_infusions.pop(essence, None)


def reattach(essence: Any) -> None:
    """A detached essence is used again (on its base's thread): back in ledger and infusions."""
    base = essence.base
    if base._tt_lc != LC_ACTIVE:
        raise RuntimeError(f"tasktonic: cannot restart {essence.name!r}: its tonic "
                           f"{base.name!r} is {Phase(base._tt_lc).name.lower()}")
    essence.id = ttLedger().register(essence)
    add_infusion(base, essence)


# -- services --------------------------------------------------------------------------------
class _Creation:
    """A service being constructed by one thread; others wait for it."""

    __slots__ = ("thread", "done")

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.done = threading.Event()


_creating: dict[str, _Creation] = {}
_waiting_for: dict[int, str] = {}


def _service_key(cls: type, declared: Any, kwargs: dict) -> str:
    """The ledger key of a service: its ``_tt_is_service`` string, or for
    ``_tt_is_service = True`` the class and its ``name=`` (one instance per class and name)."""
    if declared is True:
        name = kwargs.get("name")
        if not isinstance(name, str) or not name:
            raise TypeError(f"tasktonic: {cls.__name__} is a service keyed by its name "
                            "(_tt_is_service = True): pass name='...'")
        return f"{cls.__module__}.{cls.__qualname__}[{name}]"
    if not isinstance(declared, str):
        raise TypeError(f"tasktonic: {cls.__name__}._tt_is_service must be a str or True, "
                        f"got {declared!r}")
    kwargs.setdefault("name", declared)  # a service is found by its service name
    return declared


def access_service(cls: type, declared: Any, args: tuple, kwargs: dict) -> Any:
    """Create the service on first use, else hand out the live one and register the caller
    as a base. Only one thread builds a given service; others wait for that one only."""
    name = _service_key(cls, declared, kwargs)
    ctxt = {key: kwargs.pop(key) for key in [k for k in kwargs if k.startswith("ctxt_")]}
    caller = _context.current_tonic()
    ledger = ttLedger()
    me = threading.get_ident()
    while True:
        with _lock:
            service = ledger.get_service_by_name(name)
            if service is not None and service._tt_lc == LC_ACTIVE:
                if (caller is not None and caller is not service
                        and caller not in service.service_bases):
                    service.service_bases.append(caller)
                    add_infusion(caller, service)
                break
            creation = _creating.get(name)
            if creation is None:
                creation = _creating[name] = _Creation()
                builder = True
            else:
                builder = False
                _check_no_wait_cycle(name, creation, me)
                _waiting_for[me] = name
        if builder:
            try:
                service = construct(cls, None, args, kwargs)
                service._tt_service_key = name
                with _lock:
                    ledger.add_service(name, service)
            finally:
                with _lock:
                    del _creating[name]
                creation.done.set()
            break
        try:
            creation.done.wait()
        finally:
            with _lock:
                _waiting_for.pop(me, None)
    service._tt_service_access(caller, ctxt)  # the caller, the creating one too (seed 000 §3)
    return service


def _check_no_wait_cycle(name: str, creation: _Creation, me: int) -> None:
    """Waiting for ``name`` must not close a circle of constructors waiting on each other."""
    thread = creation.thread
    seen = {name}
    while True:
        if thread == me:
            raise RuntimeError(f"tasktonic: service {name!r} is used while it is being "
                               "constructed by the same chain of service constructors "
                               f"({' -> '.join(sorted(seen))}); a constructor cannot wait "
                               "for itself")
        waited = _waiting_for.get(thread)
        if waited is None or waited in seen:
            return
        seen.add(waited)
        next_creation = _creating.get(waited)
        if next_creation is None:
            return
        thread = next_creation.thread


def release_service_base(service: Any, base: Any) -> None:
    """On the service's thread: ``base`` no longer uses it; the last base leaving finishes it.

    The decision is taken under the same lock as handing the service out, so a caller gets
    either a service that stays or, once it is finishing, a fresh instance.
    """
    with _lock:
        if base not in service.service_bases:
            return
        service.service_bases.remove(base)
        last = not service.service_bases and service._tt_lc == LC_ACTIVE
        if last:
            service._tt_lc = LC_FINISHING
    service._tt_base_left(base)
    if last:
        _finishing_work(service)
