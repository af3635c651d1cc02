"""ttEssence (published as ttLiquid too): identity, hierarchy, lifecycle and services.

Every tonic, catalyst and timer is an essence. The metaclass hands construction to the
lifecycle module (``lifecycle.construct``): the new essence gets its ledger id and its base (the
tonic running or being built on this thread) before ``__init__`` runs and becomes an infusion of
that base afterwards. A class with ``_tt_is_service`` is a singleton
(``lifecycle.access_service``): the first call creates it (its ``base`` is None, so the creator
is not a base of it), every later call returns the same instance, registers the caller in
``service_bases`` and as the caller's infusion; every call, the first included, runs
``_tt_init_service_base(caller, **ctxt_kwargs)`` in the caller's thread, with the calling tonic
(None outside any tonic). Keyword arguments named ``ctxt_*`` go to that hook only.
"""
from __future__ import annotations

from typing import Any, TypeVar

from . import _context, lifecycle
from .ledger import LedgerAttribute, ttLedger
from .lifecycle import LC_ACTIVE, LC_COMPLETED, LC_FINISHING, LC_INIT, Phase
from .log import emit, ttLog

__all__ = ["ttEssence", "ttLiquid", "Phase", "LC_INIT", "LC_ACTIVE", "LC_FINISHING",
           "LC_COMPLETED"]

E = TypeVar("E", bound="ttEssence")


class _EssenceMeta(type):
    """Wraps construction of every essence: the lifecycle builds it, services are shared."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        service_name = cls._tt_is_service  # type: ignore[attr-defined]
        if service_name:
            return lifecycle.access_service(cls, service_name, args, kwargs)
        return lifecycle.construct(cls, _context.current_tonic(), args, kwargs)


class ttEssence(metaclass=_EssenceMeta):
    """The base of everything the ledger tracks: id, name, base, infusions, lifecycle."""

    #: Set to a unique string to make the class a singleton service under that name.
    _tt_is_service: str | None = None
    #: Cross-thread calls pass essences by reference, never copied.
    _tt_by_reference = True
    #: Timers and other framework helpers never log.
    _tt_force_stealth = False
    _tt_is_catalyst = False
    _tt_is_tonic = False
    _tt_finish_requested = False
    #: Opt in to finishing once the last child tonic has finished (TaskTonic 0.2.4's default;
    #: off here, since it would end a TCP server when its last connection closes).
    _tt_auto_finish_without_infusions = False
    _tt_lc = LC_INIT
    #: The ledger (``ttLedger()``), as TaskTonic 0.2.4 offers it on every essence.
    ledger = LedgerAttribute()

    id: int
    name: str
    base: ttEssence | None
    service_bases: list

    def _tt_pre_init(self, base: Any) -> None:
        """Identity and hierarchy, set before the user's ``__init__`` runs."""
        self.base = base
        self._tt_infusions: dict = {}
        self.service_bases = []
        ledger = ttLedger()
        self.id = ledger.register(self)
        self.name = f"{self.id:02d}.{type(self).__name__}"
        if self._tt_force_stealth:
            self._tt_log_mode = ttLog.STEALTH
        else:
            self._tt_log_mode = ttLog.from_any(ledger.setting("tasktonic/log/default",
                                                              ttLog.QUIET))

    def __init__(self, name: str | None = None, context: ttEssence | None = None,
                 log_mode: Any = None, **kwargs: Any) -> None:
        unknown = [key for key in kwargs if not key.startswith(("srv_", "ctxt_"))]
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s): "
                            f"{', '.join(unknown)}")
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"tasktonic: name must be a str, got {type(name).__name__}")
            self.name = name
        if context is not None:
            if not isinstance(context, ttEssence):
                raise TypeError("tasktonic: context must be a tonic (the base of the new one), "
                                f"got {type(context).__name__}")
            self.base = context
        if log_mode is not None and not self._tt_force_stealth:
            self.set_log_mode(log_mode)

    # -- lifecycle hooks (called by the lifecycle module, see there) -------------------
    def _tt_activated(self) -> None:
        """``__init__`` succeeded and the essence is ACTIVE."""

    def _tt_releasing(self) -> None:
        """Release what must not outlive the essence (once: finishing began, or init failed)."""

    def _tt_pending(self) -> bool:
        """True while finishing must still wait (for infusions)."""
        return bool(self._tt_infusions)

    def _tt_finished_hooks(self) -> None:
        """The last user hooks before completion (tonics: leave the state, on_finished)."""

    def _tt_completed(self) -> None:
        """The essence has completed (last step, on its owner's thread)."""

    def _tt_infusion_completed(self, infusion: ttEssence) -> None:
        lifecycle.infusion_completed(self, infusion)

    # -- services ----------------------------------------------------------------------
    def _tt_service_access(self, base: Any, ctxt: dict) -> None:
        self._tt_init_service_base(base, **ctxt)
        if type(self)._init_service is not ttEssence._init_service:
            self._init_service(base, **ctxt)

    def _tt_init_service_base(self, base: Any, **kwargs: Any) -> None:
        """Per-access hook of a service; runs in the CALLER's thread (queue a sparkle)."""

    def _init_service(self, context: Any, **kwargs: Any) -> None:
        """Per-access hook under its older name; also runs in the caller's thread."""

    # -- hierarchy ---------------------------------------------------------------------
    def bind(self, cls: type[E], *args: Any, **kwargs: Any) -> E:
        """Create (or access, for a service) ``cls(*args, **kwargs)`` with this essence as base."""
        if not (isinstance(cls, type) and issubclass(cls, ttEssence)):
            raise TypeError(f"tasktonic: bind() takes a tonic, service or timer class, got {cls!r}")
        stack = _context.building()
        stack.append(self)
        try:
            return cls(*args, **kwargs)
        finally:
            stack.pop()

    @property
    def infusions(self) -> list:
        """The essences this one created (and the services it uses), oldest first."""
        return list(self._tt_infusions)

    def finish(self) -> None:
        """End this essence and its infusions (plain essences end at once)."""
        lifecycle.begin_finish(self)

    @property
    def phase(self) -> Phase:
        """Where the essence is in its life: INIT, ACTIVE, FINISHING or COMPLETED."""
        return Phase(self._tt_lc)

    @property
    def finished(self) -> bool:
        """True once the essence has completely finished."""
        return self._tt_lc == LC_COMPLETED

    # -- logging -----------------------------------------------------------------------
    @property
    def log_mode(self) -> ttLog:
        return ttLog(self._tt_log_mode)

    def set_log_mode(self, log_mode: Any) -> None:
        """Change the log mode (a ttLog, its name or number)."""
        self._tt_log_mode = ttLog.from_any(log_mode)

    def log(self, line: Any = None, *args: Any, **kwargs: Any) -> None:
        """Log a line (shown in QUIET and FULL modes)."""
        if self._tt_log_mode >= ttLog.QUIET:
            emit(self, "log", "" if line is None else str(line))

    def _tt_log_lifecycle(self, text: str) -> None:
        if self._tt_log_mode >= ttLog.OFF:
            emit(self, "lifecycle", text)

    # -- identity ----------------------------------------------------------------------
    def __deepcopy__(self, memo: dict) -> ttEssence:
        return self

    def __copy__(self) -> ttEssence:
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} id={self.id}>"

    def __str__(self) -> str:
        return self.name


ttLiquid = ttEssence
