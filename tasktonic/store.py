"""ttStore: the application's shared data tree, as a service, with notifications as sparkles.

``ttStore()`` anywhere returns the one store of the application (service ``'tt_store'``). Its
data lives in a ``DataTree`` (``store.tree``): ``set`` / ``get`` / ``remove`` / ``dump`` /
``group`` work from any thread, at once. A subscriber is a tonic, and it hears about changes
the tonic way: as a sparkle queued on its own catalyst, with its own copy of the changes.

    store = ttStore()
    store.set('app/config/version', '1.0')
    store.set('users/list[]', 'new_user')
    store.get('app/config')                       # {'version': '1.0'}
    store.subscribe('app/config', self.ttse__on_config_changed)

Subscriptions hear ``path`` and everything below it (``recursive=True``, the default) or only
that exact leaf path (``recursive=False``); a ``*`` segment matches exactly one branch key
(``sensors/*/temp``). ``with store.source('gui'):`` tags the changes this thread (and this
tonic) makes inside the block, and ``subscribe(..., ignore_source='gui')`` skips them, so a
tonic that syncs itself with the store does not hear its own writes. Each change unpacks as
``(path, new, old)`` and carries ``.source`` (a ``Change``). ``unsubscribe`` takes the token or
the callback.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from . import _context
from .datatree import Change, DataTree
from .tonic import ttTonic

__all__ = ["ttStore", "DataTree", "Change"]


class _Delivery:
    """The tree-level callback of one store subscription: hands the changes to its tonic."""

    __slots__ = ("store", "owner", "callback", "is_sparkle", "token")

    def __init__(self, store: ttStore, owner: ttTonic, callback: Callable,
                 is_sparkle: bool) -> None:
        self.store = store
        self.owner = owner
        self.callback = callback
        self.is_sparkle = is_sparkle
        self.token: int | None = None

    def __call__(self, changes: list) -> None:
        owner = self.owner
        if owner.finished:  # lazy clean-up: a finished tonic hears nothing more
            if self.token is not None:
                self.store.tree.unsubscribe(self.token)
            return
        if self.is_sparkle:
            self.callback(changes)  # a sparkle method queues itself (and copies across threads)
        else:
            owner._ttss__call(self.callback, changes)
        self.store._tt_count_delivery()

    def __repr__(self) -> str:
        return f"<ttStore delivery of {self.callback!r} to {self.owner!r}>"


def _sparkle_owner(callback: Any) -> ttTonic | None:
    """The tonic of a bound sparkle method, or None for any other callable."""
    func = getattr(callback, "__func__", None)
    tonic = getattr(callback, "__self__", None)
    if getattr(func, "_tt_sparkle_method", False) and isinstance(tonic, ttTonic):
        return tonic
    return None


class ttStore(ttTonic):
    """The shared, thread-safe, hierarchical data store of an application (a service).

    ``set``, ``get``, ``remove``, ``dump``, ``dumps``, ``group``, ``subscribe`` and
    ``unsubscribe`` are plain methods, not sparkles: they run at once, in the caller's thread,
    and are safe from any thread because the tree takes its lock. Paths, values and change
    lists are those of ``DataTree`` (``tasktonic.datatree``).
    """

    _tt_is_service = "tt_store"

    tree: DataTree

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # A source() block tags only the changes of the tonic that opened it (on its thread).
        self.tree = DataTree(scope=_context.current_tonic)
        self._tt_deliveries = 0
        self._tt_sweep_every = 64

    # -- data (plain methods, any thread) --------------------------------------------------
    def set(self, path: Any, value: Any = None, notify: bool = True) -> None:
        """``set(path, value)``, ``set(dict)`` or ``set(pairs)``; see ``DataTree.set``."""
        self.tree.set(path, value, notify)

    def get(self, path: str, default: Any = None) -> Any:
        """The value (a branch as fresh plain data) at ``path``, or ``default``."""
        return self.tree.get(path, default)

    def remove(self, path: str, notify: bool = True) -> Any:
        """Remove and return what is at ``path``; KeyError if nothing is there."""
        return self.tree.remove(path, notify)

    def __contains__(self, path: str) -> bool:
        return path in self.tree

    def dump(self) -> list[tuple[str, Any]]:
        """Every leaf as ``(path, value)``, in insertion order."""
        return self.tree.dump()

    def dumps(self) -> str:
        """The store as indented text."""
        return self.tree.dumps()

    def group(self) -> AbstractContextManager[DataTree]:
        """``with store.group():`` batches its changes into one notification per subscriber."""
        return self.tree.group()

    def source(self, tag: Any) -> AbstractContextManager[DataTree]:
        """``with store.source(tag):`` tags the changes made inside the block (``.source``).

        Only the changes made by this thread, while the tonic running (or being built) on it is
        the one that entered the block, are tagged: other threads' concurrent changes, and those
        of a tonic constructed inside the block, are not. Subscribers with
        ``ignore_source=tag`` do not hear them. It does not batch; nest ``group()`` for that.
        """
        return self.tree.source(tag)

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(self, path: str, callback: Callable[[list], Any],
                  owner: ttTonic | None = None, *, recursive: bool = True,
                  ignore_source: Any = None) -> int:
        """Hear every change at ``path`` or below it, as a sparkle on the subscriber's catalyst.

        ``callback`` gets one list of changes per change batch, each unpacking as ``(leaf_path,
        new_value, old_value)`` and carrying ``.source``. ``recursive=False`` hears only changes
        exactly at ``path``; a ``*`` segment of ``path`` matches any one branch key (and with
        ``recursive=True`` everything below a match too); ``ignore_source=tag`` leaves out the
        changes made inside ``store.source(tag)`` (a batch left empty is not delivered).
        A bound sparkle method (``self.ttse__on_change``) is simply called: that queues it on
        its tonic's catalyst, copying the changes when the setter runs on another thread. Any
        other callable belongs to ``owner``, else to the tonic running or being built on this
        thread, and runs on that tonic's catalyst (as its system sparkle ``_ttss__call``).
        Subscriptions of a finished tonic are dropped at their next notification, and by a
        sweep paced by deliveries and subscriptions (amortised O(1) each). Returns the token
        for ``unsubscribe``.
        """
        if not callable(callback):
            raise TypeError(f"ttStore.subscribe: callback must be callable, "
                            f"got {type(callback).__name__}")
        tonic = _sparkle_owner(callback)
        if tonic is not None:
            if owner is not None and owner is not tonic:
                raise ValueError(f"ttStore.subscribe: {callback.__name__} is a sparkle of "
                                 f"{tonic!r}; it is delivered there, not to owner {owner!r}")
            delivery = _Delivery(self, tonic, callback, True)
        else:
            if owner is None:
                owner = _context.current_tonic()
            if owner is None:
                raise ValueError("ttStore.subscribe: no tonic to deliver to; subscribe a plain "
                                 "callable from inside a tonic, or pass owner=...")
            if not isinstance(owner, ttTonic):
                raise TypeError(f"ttStore.subscribe: owner must be a tonic, "
                                f"got {type(owner).__name__}")
            delivery = _Delivery(self, owner, callback, False)
        token = self.tree.subscribe(path, delivery, recursive=recursive,
                                    ignore_source=ignore_source)
        delivery.token = token
        self._tt_count_delivery()  # subscribing paces the sweep too
        return token

    def unsubscribe(self, token_or_callback: Any) -> bool:
        """Stop a subscription by its token, or every subscription of a callback (as given to
        ``subscribe``, compared with ``==``: ``self.ttse__on_change`` again matches); False if
        there was none."""
        if callable(token_or_callback):
            callback = token_or_callback
            return self.tree._unsubscribe_where(
                lambda delivery: delivery == callback or (
                    isinstance(delivery, _Delivery) and delivery.callback == callback)) > 0
        return self.tree.unsubscribe(token_or_callback)

    def subscriptions(self) -> list[tuple[int, str, Any]]:
        """The live subscriptions as ``(token, path, subscriber tonic)``."""
        return [(token, path, getattr(callback, "owner", None))
                for token, path, callback in self.tree.subscriptions()]

    # -- clean-up of finished subscribers --------------------------------------------------
    def _tt_count_delivery(self) -> None:
        """Count one delivery or subscription; sweep when enough have passed."""
        # Unlocked counting may lose a step under contention; it only paces the sweep.
        self._tt_deliveries += 1
        if self._tt_deliveries >= self._tt_sweep_every:
            self._tt_sweep()

    def _tt_sweep(self) -> None:
        """Drop the subscriptions of finished tonics, so one that never hears again cannot
        leak; runs about once per ``2 * subscriptions`` deliveries and subscriptions."""
        self._tt_deliveries = 0
        live = 0
        for token, _path, callback in self.tree.subscriptions():
            if isinstance(callback, _Delivery) and callback.owner.finished:
                self.tree.unsubscribe(token)
            else:
                live += 1
        self._tt_sweep_every = max(64, 2 * live)
