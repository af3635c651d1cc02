"""ttTonic: an essence with sparkles, a state machine and a catalyst.

Sparkles are found once per class (``__init_subclass__`` hands the class to the dispatch
seam). Calling one queues a work order on the tonic's catalyst; the catalyst runs it in its own
thread, routed by the active state: ``prefix_<state>__x``, else ``prefix__x``, else nothing.

Finishing is a tree walk: ``finish()`` queues ``ttsc__finish``; the tonic then finishes its
infusions (and releases the services it uses), waits until each has completed, leaves its
active state, runs ``ttse__on_finished``, leaves the ledger, and tells its base and its
catalyst. Sparkles that arrive after that are dropped with a debug line on the ``tasktonic``
logger. The phases and their rules live in ``lifecycle``; this class supplies the hooks.
"""
from __future__ import annotations

from collections.abc import Callable
from threading import Lock, get_ident
from typing import TYPE_CHECKING, Any

from . import lifecycle
from ._switch import dispatch as _dispatch, loop as _loop
from .essence import ttEssence
from .ledger import ttLedger
from .log import emit, trace_sparkle, ttLog
from .queue_loop import execute_sparkle

if TYPE_CHECKING:  # catalyst imports this module
    from .catalyst import ttCatalyst

__all__ = ["ttTonic"]


def _noop(func: Callable) -> Callable:
    """Mark a framework default hook: it exists for ``super()`` but queues nothing."""
    func._tt_noop = True  # type: ignore[attr-defined]
    return func


def _never_runs(tonic: Any, entry: Any, exc: Exception) -> None:
    """The error handler of a staging loop, which never runs its orders."""


class _StagingLoop(_loop.SparkleLoop):
    """Where a tonic built off its catalyst's thread sends its sparkles until ``__init__`` has
    succeeded. Its loop never runs: ``hand_over`` moves what it holds to the catalyst's loop
    and from then on forwards what a late sender still sends here, so that nothing sent after
    the hand-over can overtake what was staged."""

    def __init__(self) -> None:
        super().__init__(_never_runs)
        self._forward_lock = Lock()
        self._target: Any = None

    def push_threadsafe(self, tonic: Any, entry: Any, args: tuple, kwargs: Any) -> None:
        with self._forward_lock:
            target = self._target
            if target is None:
                super().push_threadsafe(tonic, entry, args, kwargs)
                return
        target.push_threadsafe(tonic, entry, args, kwargs)

    def hand_over(self, target: Any) -> None:
        """Move the staged orders to ``target`` in order; forward everything sent later."""
        with self._forward_lock:
            for order in self.drain():
                target.push_threadsafe(order.tonic, order.sparkle, order.args, order.kwargs)
            self._target = target


class ttTonic(ttEssence):
    """A stateful component whose methods ``ttsc__x`` / ``ttse__x`` / ``tts__x`` are sparkles."""

    #: Extra state names for states that have no state-specific sparkle of their own.
    _tt_states: tuple[str, ...] = ()

    _tt_sparkles: dict
    _tt_state_names: tuple[str, ...]
    _tt_state_index: dict[str, int]
    _tt_state = 0
    _tt_state_name: str | None = None
    _tt_has_on_start: bool

    #: The catalyst that runs this tonic's sparkles (a catalyst is its own).
    catalyst: ttCatalyst
    #: The lifecycle's own public sparkles: like every ``_ttss__`` sparkle they bypass a
    #: catalyst's queue bound, so a full catalyst can always start and finish its tonics.
    _tt_system_sparkles = ("ttsc__finish", "ttse__on_start", "ttse__on_queue_high",
                           "ttse__on_queue_low")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._tt_build_sparkles()

    @classmethod
    def _tt_build_sparkles(cls) -> None:
        declared: list[str] = []
        for klass in reversed(cls.__mro__):
            for state in klass.__dict__.get("_tt_states", ()):
                if not isinstance(state, str) or not state.isidentifier():
                    raise TypeError(f"{cls.__name__}._tt_states must hold identifiers, "
                                    f"got {state!r}")
                declared.append(state)
        entries, states = _dispatch.build_class_sparkles(cls, tuple(declared))
        cls._tt_sparkles = entries
        cls._tt_state_names = states
        cls._tt_state_index = {state: i + 1 for i, state in enumerate(states)}
        cls._tt_has_on_start = any(entries["ttse__on_start"].table)

    # -- construction ------------------------------------------------------------------
    _tt_is_tonic = True

    def _tt_pre_init(self, base: Any) -> None:
        catalyst = getattr(base, "catalyst", None) if base is not None else None
        if catalyst is None or catalyst.finished:
            catalyst = ttLedger().main_catalyst
        if catalyst is None:
            raise RuntimeError(f"tasktonic: cannot create {type(self).__name__}: no catalyst is "
                               "running (start the application with a ttFormula)")
        lifecycle.host(catalyst, self)
        self._tt_set_catalyst(catalyst)
        super()._tt_pre_init(base)

    #: Where this tonic's sparkles wait while it is built on another thread than its catalyst's.
    _tt_staging: Any = None

    def _tt_set_catalyst(self, catalyst: ttCatalyst) -> None:
        """Run on ``catalyst``. Built on another thread than the catalyst's, the tonic sends its
        sparkles to a loop of its own that never runs (``_tt_staging``) until ``__init__`` has
        succeeded: then they go to the catalyst in order, or are dropped if it raised."""
        self.catalyst = catalyst
        loop = catalyst.sparkle_loop
        if loop.thread_id == get_ident() and self._tt_staging is None:
            self._tt_loop = loop
        else:
            if self._tt_staging is None:
                self._tt_staging = _StagingLoop()
            self._tt_loop = self._tt_staging

    def _tt_unstage(self) -> None:
        staging = self._tt_staging
        if staging is None:
            return
        target = self.catalyst.sparkle_loop
        staging.hand_over(target)  # first what was staged; a late sender's orders follow it
        self._tt_loop = target
        self._tt_staging = None

    def __init__(self, name: str | None = None, context: Any = None, log_mode: Any = None,
                 catalyst: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name, context=context, log_mode=log_mode, **kwargs)
        if catalyst is None and context is not None and context.catalyst is not self.catalyst:
            catalyst = context.catalyst
        if catalyst is not None and catalyst is not self.catalyst:
            if not getattr(catalyst, "_tt_is_catalyst", False):
                raise TypeError(f"tasktonic: catalyst for {self.name!r} must be a ttCatalyst, "
                                f"got {catalyst!r}")
            lifecycle.move(self, catalyst)

    def _tt_activated(self) -> None:
        self._tt_unstage()  # sparkles queued by __init__ run first, then on_start
        if self._tt_log_mode >= ttLog.FULL:
            self._tt_loop.tracer = trace_sparkle
        self._tt_log_lifecycle("started")
        if self._tt_has_on_start:
            self.ttse__on_start()

    def set_log_mode(self, log_mode: Any) -> None:
        super().set_log_mode(log_mode)
        if self._tt_log_mode >= ttLog.FULL:
            self._tt_loop.tracer = trace_sparkle

    # -- state machine -----------------------------------------------------------------
    #: What ``get_active_state()`` says while no state is active (TaskTonic 0.2.4's marker).
    NO_STATE = "--"

    def to_state(self, state: str | int, force_reenter: bool = False) -> None:
        """Go to ``state``: on_exit, the change and on_enter run right after this sparkle.

        ``to_state(-1)`` stops the state machine the same way: the exit hook runs, then no
        state is active until the next ``to_state(name)``.
        """
        index: int | None
        if state == -1 and type(state) is int:
            index = 0
        elif not isinstance(state, str):
            raise TypeError(f"tasktonic: state must be a str (or -1 to stop the state machine), "
                            f"got {type(state).__name__}")
        else:
            index = self._tt_state_index.get(state)
            if index is None:
                valid = ", ".join(repr(s) for s in self._tt_state_names) or "none"
                raise ValueError(f"tasktonic: tonic {self.name!r} ({type(self).__name__}) has "
                                 f"no state {state!r}; valid states: {valid}")
        loop = self._tt_loop
        if loop.thread_id == get_ident() and loop.current_tonic is self:
            loop.push_extra(self, self._tt_sparkles["_ttss__transition"], (index, force_reenter))
        else:
            self._ttss__transition(index, force_reenter)

    def reenter_current_state(self) -> None:
        """Run on_exit and on_enter of the active state again."""
        if self._tt_state_name is not None:
            self.to_state(self._tt_state_name, force_reenter=True)

    def get_active_state(self) -> str:
        """The active state's name, or ``'--'`` while none is (``state`` is None then)."""
        name = self._tt_state_name
        return self.NO_STATE if name is None else name

    get_current_state_name = get_active_state

    @property
    def state(self) -> str | None:
        return self._tt_state_name

    @property
    def state_names(self) -> tuple[str, ...]:
        """Every state of this tonic's class, in the order of their indices (from 1)."""
        return self._tt_state_names

    def ttsc__to_state(self, state: str | int, force_reenter: bool = False) -> None:
        self.to_state(state, force_reenter)

    def _ttss__transition(self, index: int, force_reenter: bool) -> None:
        if self.finished or (index == self._tt_state and not force_reenter):
            return
        sparkles = self._tt_sparkles
        if self._tt_state:  # there is no state to leave before the first to_state
            self._tt_run_hook(sparkles["ttse__on_exit"])
        old = self._tt_state_name
        self._tt_state = index
        self._tt_state_name = self._tt_state_names[index - 1] if index else None
        if self._tt_log_mode >= ttLog.FULL:
            emit(self, "state", f"{old} -> {self._tt_state_name}")
        if index:  # stopping the state machine enters nothing
            self._tt_run_hook(sparkles["ttse__on_enter"])

    def _tt_run_hook(self, entry: Any, *args: Any) -> None:
        """Run a lifecycle hook now, inside the running system sparkle, errors contained."""
        if entry.table[self._tt_state] is not None:
            self._tt_loop.run_now(self, entry, args)

    # -- default hooks (exist for super(); they queue nothing) -------------------------
    @_noop
    def ttse__on_start(self) -> None:
        """Runs first, on the tonic's catalyst, once the tonic is built."""

    @_noop
    def ttse__on_finished(self) -> None:
        """Runs last, once every infusion has finished."""

    @_noop
    def ttse__on_enter(self) -> None:
        """Runs after entering any state (``ttse_<state>__on_enter`` for one state)."""

    @_noop
    def ttse__on_exit(self) -> None:
        """Runs before leaving any state (``ttse_<state>__on_exit`` for one state)."""

    @_noop
    def ttse__on_service_base_completed(self, base: Any) -> None:
        """A service hears that one of the tonics using it has finished."""

    @_noop
    def ttse__on_queue_high(self, catalyst: Any) -> None:
        """A catalyst with ``overflow='signal'`` is full: this tonic should send less to it."""

    @_noop
    def ttse__on_queue_low(self, catalyst: Any) -> None:
        """A catalyst that said ``ttse__on_queue_high`` has drained to its low water mark."""

    def on_sparkle_error(self, sparkle: str, error: Exception) -> bool:
        """Override to handle this tonic's sparkle errors; return True when handled."""
        return False

    def run_sparkle_now(self, method: Callable, *args: Any) -> None:
        """Run one of this tonic's sparkle methods now, inside the running sparkle (routed by
        state, traced, errors handled like any sparkle); a plain method is just called."""
        func: Any = getattr(method, "__func__", None)
        if getattr(func, "_tt_sparkle_method", False):
            self._tt_loop.run_now(self, self._tt_sparkles[func.__name__], args)
        else:
            method(*args)

    def _execute_sparkle(self, sparkle: Any, *args: Any, **kwargs: Any) -> None:
        """Run a work order taken from a catalyst queue (in a catalyst's own ``sparkle()``):
        ``sparkle``'s handler for this tonic's state, traced, errors handled, then the extra
        sparkles (state transitions) it queued. See ``ttCatalyst.sparkle``."""
        execute_sparkle(self, sparkle, args, kwargs)

    def _ttss__call(self, func: Callable, *args: Any, **kwargs: Any) -> None:
        """Run a plain callable on this tonic's catalyst, as a sparkle of this tonic."""
        func(*args, **kwargs)

    # -- finishing (the rules are in lifecycle) ----------------------------------------
    def finish(self) -> None:
        """Ask the tonic to finish; sparkles queued before this still run."""
        if lifecycle.request_finish(self):
            self.ttsc__finish()

    def ttsc__finish(self) -> None:
        lifecycle.begin_finish(self)

    def _tt_pending(self) -> bool:
        return bool(self._tt_infusions)

    def _tt_finished_hooks(self) -> None:
        sparkles = self._tt_sparkles
        if self._tt_state > 0:  # finishing leaves the active state
            self._tt_run_hook(sparkles["ttse__on_exit"])
            self._tt_state = 0
            self._tt_state_name = None
        self._tt_run_hook(sparkles["ttse__on_finished"])

    def _tt_close_sparkles(self) -> None:
        """Completed: every sparkle sent from now on is dropped with a debug line."""
        self._tt_state = -1
        self._tt_loop = _loop.FINISHED_LOOP
        if self._tt_staging is not None:  # __init__ raised: what it queued is dropped
            self._tt_staging.close()
            self._tt_staging = None

    def _tt_infusion_completed(self, infusion: ttEssence) -> None:
        self._ttss__on_infusion_completed(infusion)  # bookkeeping on our own thread

    def _ttss__on_infusion_completed(self, infusion: ttEssence) -> None:
        lifecycle.infusion_completed(self, infusion)

    # -- services ----------------------------------------------------------------------
    def _ttss__remove_service_base(self, base: ttEssence) -> None:
        lifecycle.release_service_base(self, base)

    def _tt_base_left(self, base: ttEssence) -> None:
        self._tt_run_hook(self._tt_sparkles["ttse__on_service_base_completed"], base)


ttTonic._tt_build_sparkles()
