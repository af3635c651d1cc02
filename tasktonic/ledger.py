"""ttLedger: the registry of every live essence, the services, and the formula settings.

One ledger per process. It hands out ids (0 is kept for the main catalyst, freed ids are
reused lowest first), finds tonics by id or name and services by service name, and counts the
application's own tonics so the application can end when the last one has finished.
"""
from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # essence and catalyst import this module: only the checker needs them
    from .catalyst import ttCatalyst
    from .essence import ttEssence

__all__ = ["ttLedger", "MAIN_CATALYST_NAME", "LedgerAttribute"]

MAIN_CATALYST_NAME = "tt_main_catalyst"


class ttLedger:
    """The process-wide registry of essences (``ttLedger()`` always returns the same one)."""

    _instance: ttLedger | None = None
    _instance_lock = threading.Lock()
    _lock: threading.RLock

    def __new__(cls) -> ttLedger:
        ledger = cls._instance
        if ledger is not None:  # the common case: no lock needed to read a set reference
            return ledger
        with cls._instance_lock:
            if cls._instance is None:
                ledger = super().__new__(cls)
                ledger._lock = threading.RLock()
                ledger._setup()
                cls._instance = ledger
        return cls._instance

    def _setup(self) -> None:
        self.records: dict[int, ttEssence] = {}
        self._free: list[int] = []
        self._next_id = 1
        self.services: dict[str, ttEssence] = {}
        self.formula: dict[str, Any] = {}
        self._main_expected = False
        self._app_tonics = 0
        self.auto_finish = False  # set once the formula has started its tonics
        self.failure: BaseException | None = None  # what ended the app: re-raised by the formula

    # -- ids and records ---------------------------------------------------------------
    def register(self, essence: ttEssence) -> int:
        """Give ``essence`` an id and record it; the first catalyst of a formula gets id 0."""
        with self._lock:
            if self._main_expected and getattr(essence, "_tt_is_catalyst", False):
                self._main_expected = False
                tid = 0
            elif self._free:
                tid = heapq.heappop(self._free)
            else:
                tid = self._next_id
                self._next_id += 1
            self.records[tid] = essence
            return tid

    def unregister(self, essence: ttEssence) -> None:
        """Forget ``essence`` and free its id (and its service name, if it is the service)."""
        with self._lock:
            tid = essence.id
            if self.records.get(tid) is not essence:
                return
            del self.records[tid]
            if tid != 0:
                heapq.heappush(self._free, tid)
            name = getattr(essence, "_tt_service_key", None)
            if name and self.services.get(name) is essence:
                del self.services[name]

    def expect_main_catalyst(self) -> None:
        """The next catalyst registered is the main catalyst (id 0)."""
        with self._lock:
            if 0 in self.records:
                raise RuntimeError("tasktonic: an application is already running in this "
                                   f"process ({self.records[0]!r})")
            self._main_expected = True

    @property
    def main_expected(self) -> bool:
        """True between ``expect_main_catalyst`` and the main catalyst's registration."""
        return self._main_expected

    def get_tonic_by_id(self, tid: int) -> ttEssence | None:
        return self.records.get(tid)

    def get_tonic_by_name(self, name: str) -> ttEssence | None:
        with self._lock:
            for essence in self.records.values():
                if essence.name == name:
                    return essence
        return None

    def get_id_by_name(self, name: str) -> int | None:
        essence = self.get_tonic_by_name(name)
        return None if essence is None else essence.id

    @property
    def main_catalyst(self) -> ttCatalyst | None:
        # id 0 is only ever given to a catalyst (register)
        return cast("ttCatalyst | None", self.records.get(0))

    # -- services ----------------------------------------------------------------------
    def get_service_by_name(self, service: str) -> ttEssence | None:
        return self.services.get(service)

    def add_service(self, name: str, essence: ttEssence) -> None:
        with self._lock:
            self.services[name] = essence

    # -- the application's own tonics -------------------------------------------------
    def count_app_tonic(self, delta: int) -> int:
        """Track live application tonics (the lifecycle decides what an empty count means)."""
        with self._lock:
            self._app_tonics += delta
            return self._app_tonics

    @property
    def app_tonics(self) -> int:
        """How many application tonics (not services, not the main catalyst) are alive."""
        return self._app_tonics

    def catalysts(self) -> list[ttCatalyst]:
        """The live catalysts."""
        with self._lock:
            return [cast("ttCatalyst", e) for e in self.records.values() if e._tt_is_catalyst]

    # -- formula settings --------------------------------------------------------------
    def update_formula(self, formula: Any, val: Any = None) -> None:
        """Set formula settings: ``(path, value)`` pairs, a dict, or one ``path, val``."""
        items: Iterable
        if isinstance(formula, str):
            items = ((formula, val),)
        elif isinstance(formula, dict):
            items = formula.items()
        else:
            items = formula
        with self._lock:
            for pair in items:
                try:
                    path, value = pair
                except (TypeError, ValueError):
                    raise TypeError("tasktonic: formula settings are (path, value) pairs, "
                                    f"got {pair!r}") from None
                if not isinstance(path, str):
                    raise TypeError(f"tasktonic: formula path must be a str, got {path!r}")
                self.formula[path.strip("/")] = value

    def setting(self, path: str, default: Any = None) -> Any:
        """One formula setting, e.g. ``setting('tasktonic/log/to', 'screen')``."""
        return self.formula.get(path.strip("/"), default)

    # -- inspection and reset ----------------------------------------------------------
    def sdump(self) -> str:
        """The live essences as an indented tree (for debugging and reports)."""
        with self._lock:
            essences = list(self.records.values())
        lines: list[str] = []
        roots = [e for e in sorted(essences, key=lambda e: e.id) if e.base is None]
        stack = [(essence, 0) for essence in reversed(roots)]
        while stack:  # depth first, without recursion: trees can be thousands deep
            essence, depth = stack.pop()
            lines.append(f"{'  ' * depth}{essence.id:3d} {essence.name} "
                         f"[{type(essence).__name__}]")
            children = [child for child in essence.infusions if child.base is essence]
            stack.extend((child, depth + 1) for child in reversed(children))
        return "\n".join(lines)

    def reset(self) -> None:
        """Forget everything (between applications, and between tests)."""
        with self._lock:
            self._setup()


class LedgerAttribute:
    """``obj.ledger`` on essences and formulas (TaskTonic 0.2.4's attribute): the ledger.

    A non-data descriptor, so a subclass that assigns its own ``self.ledger`` keeps it.
    """

    def __get__(self, obj: Any, owner: type | None = None) -> ttLedger:
        return ttLedger()
