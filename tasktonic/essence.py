"""ttEssence (published as ttLiquid too): identity, hierarchy, lifecycle and services.

Every tonic, catalyst and timer is an essence. The metaclass wraps construction: the new
essence gets its ledger id and its base (the tonic running or being built on this thread)
before ``__init__`` runs, becomes an infusion of that base afterwards, and a class with
``_tt_is_service`` is a singleton: the first call creates it (base None), every later call
returns the same instance, registers the caller in ``service_bases`` and as the caller's
infusion; every call, the first included, runs ``_tt_init_service_base(base, **ctxt_kwargs)``
in the caller's thread. Keyword arguments named ``ctxt_*`` go to that hook only.
"""
from __future__ import annotations

import threading
from typing import Any, TypeVar

from . import _context
from .ledger import ttLedger
from .log import emit, ttLog

__all__ = ["ttEssence", "ttLiquid", "LC_INIT", "LC_ACTIVE", "LC_FINISHING", "LC_COMPLETED"]

LC_INIT, LC_ACTIVE, LC_FINISHING, LC_COMPLETED = range(4)

_service_lock = threading.RLock()

E = TypeVar("E", bound="ttEssence")


class _EssenceMeta(type):
    """Wraps construction of every essence: ids, base, infusion, services."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        service_name = cls._tt_is_service  # type: ignore[attr-defined]
        if service_name:
            return _access_service(cls, service_name, args, kwargs)
        return _construct(cls, _context.current_tonic(), args, kwargs)


def _construct(cls: type, base: Any, args: tuple, kwargs: dict) -> Any:
    self = cls.__new__(cls)
    self._tt_pre_init(base)
    stack = _context.building()
    stack.append(self)
    try:
        self.__init__(*args, **kwargs)
    except BaseException:
        stack.remove(self)
        self._tt_abort()
        raise
    stack.remove(self)
    self._tt_post_init_action()
    return self


def _access_service(cls: type, name: str, args: tuple, kwargs: dict) -> Any:
    ctxt = {key: kwargs.pop(key) for key in [k for k in kwargs if k.startswith("ctxt_")]}
    caller = _context.current_tonic()
    ledger = ttLedger()
    with _service_lock:
        service = ledger.get_service_by_name(name)
        first = service is None or service._tt_lc >= LC_FINISHING
        if first:
            service = _construct(cls, None, args, kwargs)
            ledger.add_service(name, service)
    if (not first and caller is not None and caller is not service
            and caller not in service.service_bases):
        service.service_bases.append(caller)
        caller._tt_add_infusion(service)
    service._tt_service_access(None if first else caller, ctxt)
    return service


class ttEssence(metaclass=_EssenceMeta):
    """The base of everything the ledger tracks: id, name, base, infusions, lifecycle."""

    #: Set to a unique string to make the class a singleton service under that name.
    _tt_is_service: str | None = None
    #: Cross-thread calls pass essences by reference, never copied.
    _tt_by_reference = True
    #: Timers and other framework helpers never log.
    _tt_force_stealth = False
    _tt_is_catalyst = False

    id: int
    name: str
    base: "ttEssence | None"
    infusions: list
    service_bases: list

    def _tt_pre_init(self, base: Any) -> None:
        """Identity and hierarchy, set before the user's ``__init__`` runs."""
        self.base = base
        self.infusions = []
        self.service_bases = []
        self._tt_lc = LC_INIT
        ledger = ttLedger()
        self.id = ledger.register(self)
        self.name = f"{self.id:02d}.{type(self).__name__}"
        if self._tt_force_stealth:
            self._tt_log_mode = ttLog.STEALTH
        else:
            self._tt_log_mode = ttLog.from_any(ledger.setting("tasktonic/log/default",
                                                              ttLog.QUIET))

    def __init__(self, name: str | None = None, context: "ttEssence | None" = None,
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

    def _tt_post_init_action(self) -> None:
        """Runs once ``__init__`` succeeded: join the base's infusions, become active."""
        if self.base is not None:
            self.base._tt_add_infusion(self)
        self._tt_lc = LC_ACTIVE

    def _tt_abort(self) -> None:
        """``__init__`` raised: finish what it had created and forget the half-built essence."""
        self._tt_lc = LC_COMPLETED
        for infusion in reversed(list(self.infusions)):
            infusion.finish()
        ttLedger().unregister(self)

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

    def _tt_add_infusion(self, infusion: "ttEssence") -> None:
        self.infusions.append(infusion)

    def _tt_remove_infusion(self, infusion: "ttEssence") -> None:
        # Searched from the end, by identity: finishing ends infusions newest first, so each
        # one is found at once (list.remove from the front made finishing N infusions O(N^2)).
        infusions = self.infusions
        for index in range(len(infusions) - 1, -1, -1):
            if infusions[index] is infusion:
                del infusions[index]
                return

    def finish(self) -> None:
        """End this essence and its infusions (plain essences end at once)."""
        if self._tt_lc >= LC_FINISHING:
            return
        self._tt_lc = LC_FINISHING
        for infusion in reversed(list(self.infusions)):
            infusion.finish()
        self._tt_lc = LC_COMPLETED
        ttLedger().unregister(self)
        if self.base is not None:
            self.base._tt_infusion_completed(self)

    def _tt_infusion_completed(self, infusion: "ttEssence") -> None:
        self._tt_remove_infusion(infusion)

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
    def __deepcopy__(self, memo: dict) -> "ttEssence":
        return self

    def __copy__(self) -> "ttEssence":
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} id={self.id}>"

    def __str__(self) -> str:
        return self.name


ttLiquid = ttEssence
