"""The per-class sparkle dispatch table (pure twin of ``_core/dispatch.pyx``).

When a tonic class is created, its sparkles are found once: methods named
``prefix[_state]__name`` with prefix ``ttsc`` (command), ``ttse`` (event), ``tts`` (internal),
``_tts`` (private) or ``_ttss`` (system). For each ``prefix__name`` there is one
``SparkleEntry`` whose ``table`` holds the handler per state index: index 0 is "no active
state" (the generic handler), index ``i`` the handler for state ``i`` (its specific handler, else
the generic one), and the last slot is always None (a completed tonic's index). A missing
handler is None: the loop skips it. An entry is ``system`` (it bypasses a queue bound) when its
prefix is ``_ttss`` or the class names it in ``_tt_system_sparkles`` (finish, on_start: the
lifecycle's own public sparkles).

Every sparkle name on the class is replaced by a *sparkle method*: calling it never runs the
handler, it queues the work order ``(tonic, entry, args, kwargs)`` on the tonic's catalyst loop
(``tonic._tt_loop``): a plain append on the catalyst's own thread, ``push_threadsafe`` (copy and
wake) from any other thread. A sparkle method reached through ``super()`` or through an explicit
``Base.ttse__x(self)`` runs that class's handler at once, inside the running sparkle, so
overriding hooks can extend their parent's.

The compiled twin must match: ``parse_sparkle_name``, ``build_class_sparkles(cls,
declared_states)`` returning ``(entries, state_names)``, and the queued-call behaviour of the
installed methods. ``SparkleEntry`` belongs to the loop module (the loop runs work orders; this
module builds them).
"""
from __future__ import annotations

from collections.abc import Callable
from threading import get_ident
from typing import Any, TypeVar

from .orders import SparkleEntry

__all__ = ["PREFIXES", "SparkleEntry", "parse_sparkle_name", "build_class_sparkles"]

#: Longest first, so ``_ttss`` wins over ``_tts`` and ``ttsc`` over ``tts``.
PREFIXES = ("_ttss", "_tts", "ttsc", "ttse", "tts")


def parse_sparkle_name(attr: str) -> tuple[str, str | None, str] | None:
    """Split ``prefix[_state]__name`` into ``(prefix, state, name)``; None if not a sparkle."""
    head, sep, name = attr.partition("__")
    if not sep or not name or not head:
        return None
    for prefix in PREFIXES:
        if head == prefix:
            return prefix, None, name
        if head.startswith(prefix) and head[len(prefix)] == "_" and len(head) > len(prefix) + 1:
            return prefix, head[len(prefix) + 1:], name
    return None


def _is_framework_noop(func: Any) -> bool:
    return getattr(func, "_tt_noop", False)


def _own_sparkles(klass: type) -> dict[str, Callable]:
    """The sparkle handlers written in ``klass`` itself (not the installed sparkle methods)."""
    return {attr: value for attr, value in klass.__dict__.items()
            if callable(value) and not isinstance(value, type)
            and not getattr(value, "_tt_sparkle_method", False)
            and parse_sparkle_name(attr) is not None}


def build_class_sparkles(cls: type, declared_states: tuple[str, ...] = (), *,
                         entry_type: type = SparkleEntry,
                         make_method: Callable | None = None
                         ) -> tuple[dict[str, SparkleEntry], tuple[str, ...]]:
    """Find the sparkles of ``cls`` (once, at class creation) and install its sparkle methods.

    Returns ``(entries, state_names)``: the entry per generic sparkle name and the class's
    states in index order (index ``i + 1`` in every table is ``state_names[i]``). The compiled
    twin reuses this discovery and passes its own ``entry_type`` and ``make_method``.
    """
    make_method = make_method or _make_sparkle_method
    # A per-class cache set on arbitrary (user) classes: not a declared attribute of `type`.
    cls._tt_own_sparkles = _own_sparkles(cls)  # type: ignore[attr-defined]
    merged: dict[str, Callable] = {}
    for klass in reversed(cls.__mro__):
        own = klass.__dict__.get("_tt_own_sparkles")
        merged.update(_own_sparkles(klass) if own is None else own)  # plain mixins too

    states: list[str] = []
    for declared in declared_states:
        if declared not in states:
            states.append(declared)
    generic: dict[str, Callable | None] = {}
    specific: dict[str, dict[str, Callable]] = {}
    for attr, func in merged.items():
        parsed = parse_sparkle_name(attr)
        assert parsed is not None  # _own_sparkles keeps sparkle names only
        prefix, state, name = parsed
        key = f"{prefix}__{name}"
        handler = None if _is_framework_noop(func) else func
        if state is None:
            generic[key] = handler
        else:
            if state not in states:
                states.append(state)
            if handler is not None:
                specific.setdefault(key, {})[state] = handler
            generic.setdefault(key, None)
    state_names = tuple(states)

    lifecycle_names = getattr(cls, "_tt_system_sparkles", ())
    entries = {key: entry_type(key, generic[key], specific.get(key, {}), state_names,
                               key.startswith("_ttss__") or key in lifecycle_names)
               for key in generic}
    for attr in merged:
        parsed = parse_sparkle_name(attr)
        assert parsed is not None
        prefix, _, name = parsed
        entry = entries[f"{prefix}__{name}"]
        setattr(cls, attr, make_method(entry, cls, merged[attr]))
    for key, entry in entries.items():
        if key not in merged:  # only state-specific handlers exist: still callable by name
            setattr(cls, key, make_method(entry, cls, None))
    return entries, state_names


# ``owner`` is typed Any so that ``self.__class__ is owner`` does not narrow ``self`` to object.
def _make_sparkle_method(entry: SparkleEntry, owner: Any, original: Callable | None) -> Callable:
    """The queued-call method installed under a sparkle's name on ``owner``."""
    def sparkle_method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.__class__ is owner:
            loop = self._tt_loop
            if loop.thread_id == get_ident():
                loop.push((self, entry, args, kwargs))
            else:
                loop.push_threadsafe(self, entry, args, kwargs)
            return None
        return entry.call_now(self, args, kwargs)

    return describe_sparkle_method(sparkle_method, entry, owner, original)


_F = TypeVar("_F", bound=Callable)


def describe_sparkle_method(method: _F, entry: Any, owner: type, original: Any) -> _F:
    """Name, docstring and markers of an installed sparkle method (shared by both twins)."""
    target: Any = method  # a function: takes the attributes below
    target.__name__ = entry.name
    target.__qualname__ = f"{owner.__qualname__}.{entry.name}"
    target.__doc__ = None if original is None else original.__doc__
    target.__wrapped__ = original
    target._tt_sparkle_method = True
    return method
