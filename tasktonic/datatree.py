"""DataTree: a thread-safe hierarchical key/value tree of plain data, with change notification.

The plain structure under ``ttStore`` (``tasktonic.store``); it imports nothing from the
framework, so it can be used and tested on its own.

Paths
    ``'app/config/version'``: segments separated by ``/`` (leading and trailing slashes are
    ignored, an empty segment is a ValueError). A segment may index a list: ``'users/list[2]'``
    (negative indexes count from the end), and in ``set`` the last segment may end in ``[]``
    to append: ``set('users/list[]', v)``. The empty path ``''`` is the root: ``get('')`` is
    the whole tree and ``subscribe('', cb)`` hears every change.

Values
    A ``dict`` value is expanded into branches and a ``list`` value into a list node, so
    ``set('app/config', {'a': 1})`` then ``get('app/config/a') == 1``. Every other value is a
    leaf. Leaves are copied on the way in and on the way out (numbers, strings, bytes and
    tuples of those are immutable and not copied; objects whose type sets
    ``_tt_by_reference = True``, such as ``ttShared``, are kept by reference), so no caller can
    change the tree behind the lock. ``get`` of a branch returns fresh dicts and lists.

Changes
    A change is ``(leaf_path, new_value, old_value)``: ``new_value`` is None when the path no
    longer exists, ``old_value`` is None when it did not exist. An empty branch or list counts
    as a leaf whose value is ``{}`` or ``[]``, so the changes of an operation are exactly the
    difference between ``dump()`` before and after it, restricted to the part of the tree the
    operation touched. Setting a leaf to an equal value of the same type is not a change.
    Removing an item from a list shifts the items after it; their paths report the shift.
    Subscribers get each change as a ``Change``: a tuple ``(path, new, old)`` that also carries
    ``.source``, the tag of the ``source()`` block it was made in (None outside one).

Subscriptions
    ``subscribe(path, cb)`` hears ``path`` and everything below it; ``recursive=False`` hears
    only changes whose leaf path is exactly ``path``. A ``*`` segment matches exactly one branch
    key (``sensors/*/temp`` matches ``sensors/a/temp``, not ``sensors/a/b/temp`` nor
    ``sensors/temp``; it does not match a list index, which is written ``[i]``), and with
    ``recursive=True`` everything below a match too. ``ignore_source=tag`` skips the changes
    made inside ``source(tag)``.

Sources
    ``with tree.source(tag):`` tags the changes made inside the block by this thread (and, when
    the tree has a ``scope``, only while the scope is the one that opened the block: for
    ``ttStore`` the running tonic). The tag is kept per thread, so other threads' concurrent
    changes are not tagged; it does not batch (combine it with ``group()`` for that).

Locking
    One ``threading.RLock`` guards the tree. Subscribers are called after it is released, in
    the thread that made the change; see ``subscribe``.
"""
from __future__ import annotations

import copy as _copy
import functools
import itertools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["DataTree", "Change"]

_log = logging.getLogger("tasktonic")

class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


class _Append:
    """The ``[]`` of a path: append to the list."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "[]"


_APPEND: Any = _Append()


class _Branch(dict):
    """An internal branch node (never handed out: ``get`` returns plain dicts)."""

    __slots__ = ()


class _Seq(list):
    """An internal list node (never handed out: ``get`` returns plain lists)."""

    __slots__ = ()


_ATOMIC = frozenset((type(None), bool, int, float, complex, str, bytes, range,
                     type(Ellipsis), type(NotImplemented)))

_SEGMENT = re.compile(r"([^\[\]]+)((?:\[(?:-?[0-9]+)?\])*)\Z")
_INDEX = re.compile(r"\[(-?[0-9]+)?\]")
_KEY = re.compile(r"[^/\[\]]+\Z")


# -- paths ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _parse(path: str) -> tuple:
    """``'a/b[2]/c[]'`` -> ``('a', 'b', 2, 'c', _APPEND)``; ``''`` -> ``()`` (the root)."""
    stripped = path.strip("/")
    if not stripped:
        return ()
    tokens: list = []
    for segment in stripped.split("/"):
        if not segment:
            raise ValueError(f"DataTree: empty segment in path {path!r}")
        match = _SEGMENT.match(segment)
        if match is None:
            raise ValueError(f"DataTree: bad segment {segment!r} in path {path!r} "
                             "(expected name, name[i] or name[])")
        tokens.append(match.group(1))
        for index in _INDEX.findall(match.group(2)):
            tokens.append(_APPEND if index == "" else int(index))
    return tuple(tokens)


def _tokens(path: Any, op: str, *, append: bool = False, root: bool = False,
            negative: bool = True) -> tuple:
    """Parse ``path`` for operation ``op`` and check what that operation allows."""
    if not isinstance(path, str):
        raise TypeError(f"DataTree.{op}: path must be a str, got {type(path).__name__}")
    tokens = _parse(path)
    if not tokens and not root:
        raise ValueError(f"DataTree.{op}: path {path!r} is the root; name a key")
    for i, token in enumerate(tokens):
        if token is _APPEND:
            if not append:
                raise ValueError(f"DataTree.{op}: '[]' (append) is only for set, "
                                 f"in path {path!r}")
            if i != len(tokens) - 1:
                raise ValueError(f"DataTree.{op}: '[]' (append) must end the path, "
                                 f"in path {path!r}")
        elif not negative and type(token) is int and token < 0:
            raise ValueError(f"DataTree.{op}: negative index [{token}] in path {path!r}")
    return tokens


def _fmt(tokens: Iterable) -> str:
    """Tokens back to the canonical path text (``('a', 0, 'b')`` -> ``'a[0]/b'``)."""
    text = ""
    for token in tokens:
        if type(token) is int:
            text += f"[{token}]"
        else:
            text = f"{text}/{token}" if text else token
    return text


# -- values --------------------------------------------------------------------------------

def _copy_leaf(value: Any) -> Any:
    """A private copy of a leaf value (immutables and by-reference objects as they are)."""
    cls = type(value)
    if cls in _ATOMIC or getattr(cls, "_tt_by_reference", False):
        return value
    if cls is tuple and all(type(item) in _ATOMIC for item in value):
        return value
    return _copy.deepcopy(value)


def _build(value: Any, path: str, active: tuple = ()) -> Any:
    """Turn a value into tree nodes: dicts become branches, lists list nodes, the rest leaves."""
    if isinstance(value, (dict, list)):
        if id(value) in active:
            raise ValueError(f"DataTree: the value for {path!r} contains itself")
        active = active + (id(value),)
        if isinstance(value, dict):
            branch = _Branch()
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"DataTree: key {key!r} under {path!r} must be a str, "
                                    f"got {type(key).__name__}")
                if not _KEY.match(key):
                    raise ValueError(f"DataTree: key {key!r} under {path!r} is not one path "
                                     "segment (not empty, no '/', '[' or ']')")
                branch[key] = _build(item, f"{path}/{key}", active)
            return branch
        return _Seq(_build(item, f"{path}[{i}]", active) for i, item in enumerate(value))
    try:
        return _copy_leaf(value)
    except Exception as exc:
        raise TypeError(f"DataTree: the value for {path!r} ({type(value).__name__}) cannot be "
                        f"copied into the tree: {exc}") from exc


def _plain(node: Any) -> Any:
    """A node as fresh plain data (dicts, lists, copied leaves)."""
    cls = type(node)
    if cls is _Branch:
        return {key: _plain(item) for key, item in node.items()}
    if cls is _Seq:
        return [_plain(item) for item in node]
    return _copy_leaf(node)


def _child(holder: Any, key: Any) -> Any:
    if type(holder) is _Seq:
        return holder[key] if key < len(holder) else _MISSING
    return holder.get(key, _MISSING)


def _flatten(node: Any, tokens: tuple, path: str, out: list) -> None:
    """Append ``(tokens, path, leaf)`` for every leaf (and empty container) under ``node``."""
    cls = type(node)
    if cls is _Branch:
        if not node:
            out.append((tokens, path, {}))
        for key, item in node.items():
            _flatten(item, tokens + (key,), f"{path}/{key}" if path else key, out)
    elif cls is _Seq:
        if not node:
            out.append((tokens, path, []))
        for i, item in enumerate(node):
            _flatten(item, tokens + (i,), f"{path}[{i}]", out)
    elif node is not _MISSING:
        out.append((tokens, path, node))


def _differs(old: Any, new: Any) -> bool:
    if old is new:
        return False
    if type(old) is not type(new):
        return True
    try:
        return not bool(old == new)
    except Exception:  # e.g. an array whose == is elementwise
        return True


def _diff(old_flat: list, new_flat: list, source: Any = None) -> list:
    """Changes ``(tokens, path, new, old, source)`` that turn ``old_flat`` into ``new_flat``."""
    old = {path: (tokens, value) for tokens, path, value in old_flat}
    changes = []
    for tokens, path, value in new_flat:
        before = old.pop(path, _MISSING)
        if before is _MISSING:
            changes.append((tokens, path, value, None, source))
        elif _differs(before[1], value):
            changes.append((tokens, path, value, before[1], source))
    for path, (tokens, value) in old.items():
        changes.append((tokens, path, None, value, source))
    return changes


class Change(tuple[str, Any, Any]):
    """One change as subscribers get it: unpacks as ``(path, new, old)`` and carries ``.source``,
    the tag of the ``source()`` block that made it (None when it was made outside one)."""

    source: Any  # set per instance in __new__ (a tuple subclass without __slots__ has a dict)

    def __new__(cls, path: str, new: Any, old: Any, source: Any = None) -> Change:
        self = tuple.__new__(cls, (path, new, old))
        self.source = source
        return self

    @property
    def path(self) -> str:
        return self[0]

    @property
    def new(self) -> Any:
        return self[1]

    @property
    def old(self) -> Any:
        return self[2]

    def __reduce__(self) -> tuple:
        return (Change, (self[0], self[1], self[2], self.source))

    def __copy__(self) -> Change:
        return self

    def __deepcopy__(self, memo: dict) -> Change:
        return Change(self[0], _copy.deepcopy(self[1], memo), _copy.deepcopy(self[2], memo),
                      _copy.deepcopy(self.source, memo))

    def __repr__(self) -> str:
        return f"Change({self[0]!r}, {self[1]!r}, {self[2]!r}, source={self.source!r})"


_WILD = "*"


def _wild_match(pattern: tuple, tokens: tuple, recursive: bool) -> bool:
    """Whether change ``tokens`` fall under ``pattern`` (a ``'*'`` matches one branch key)."""
    size = len(pattern)
    if len(tokens) < size or (not recursive and len(tokens) != size):
        return False
    for want, got in zip(pattern, tokens):
        if want == _WILD and type(want) is str:
            if type(got) is not str:
                return False
        elif want != got or type(want) is not type(got):
            return False
    return True


class _Subscription:
    __slots__ = ("token", "tokens", "path", "callback", "recursive", "ignore", "wild")

    def __init__(self, token: int, tokens: tuple, path: str, callback: Callable,
                 recursive: bool = True, ignore: Any = None) -> None:
        self.token = token
        self.tokens = tokens
        self.path = path
        self.callback = callback
        self.recursive = recursive
        self.ignore = ignore
        self.wild = _WILD in tokens


# -- the tree ------------------------------------------------------------------------------

class DataTree:
    """A thread-safe tree of plain data addressed by ``'a/b/c'`` paths, with subscriptions.

    Every method may be called from any thread: one ``RLock`` guards the tree, and values are
    copied in and out, so callers never share mutable state with it.
    """

    def __init__(self, scope: Callable[[], Any] | None = None) -> None:
        """``scope``: optional callable naming the context a ``source()`` block belongs to
        (``ttStore`` passes the running tonic); a change is tagged only while it returns the
        same object as when the block was entered."""
        self._scope = scope
        self._local = threading.local()  # .source: (tag, scope) of this thread's source block
        self._lock = threading.RLock()
        self._root = _Branch()
        self._subs: dict[int, _Subscription] = {}
        self._next_token = itertools.count(1)
        self._depth = 0          # nesting of group(); only touched with the lock held
        self._pending: list = []  # changes held back by group()

    # -- writing ---------------------------------------------------------------------------
    def set(self, path: Any, value: Any = None, notify: bool = True) -> None:
        """Set one value, or many: ``set(path, value)``, ``set(dict)`` or ``set(pairs)``.

        ``path`` ending in ``[]`` appends to the list there (creating it), ``[i]`` replaces an
        existing item (IndexError if there is none). Missing branches on the way are created
        and a leaf in the way is replaced by a branch; a branch is never turned into a list or
        back (TypeError). A dict or iterable of ``(path, value)`` pairs is applied in order
        under one lock hold and notified as one batch; its paths are checked before anything
        changes, but an error in the middle leaves (and notifies) the changes made before it.
        ``notify=False`` changes the tree without telling subscribers.
        """
        items = self._batch(path, value)
        source = self._current_source()
        deliveries = None
        try:
            with self._lock:
                changes: list = []
                try:
                    for tokens, text, item in items:
                        self._set_one(tokens, text, item, changes, source)
                finally:
                    if notify and changes:
                        deliveries = self._publish(changes)
        finally:
            if deliveries:
                self._deliver(deliveries)

    def remove(self, path: str, notify: bool = True) -> Any:
        """Remove what is at ``path`` (a leaf, a branch or a list item) and return it as plain
        data; KeyError naming the path if nothing is there. Later list items shift down."""
        tokens = _tokens(path, "remove")
        source = self._current_source()
        deliveries = None
        with self._lock:
            node: Any = self._root  # a _Branch or a _Seq on the way down
            trail: list = []        # (holder, key) per depth
            norm: list = []
            for token in tokens:
                cls = type(node)
                if type(token) is int:
                    if cls is not _Seq or not -len(node) <= token < len(node):
                        raise KeyError(f"DataTree.remove: nothing at {path!r}")
                    key = token + len(node) if token < 0 else token
                else:
                    if cls is not _Branch or token not in node:
                        raise KeyError(f"DataTree.remove: nothing at {path!r}")
                    key = token
                trail.append((node, key))
                norm.append(key)
                node = node[key]
            holder, key = trail[-1]
            # The part of the tree whose leaves change: the removed node, or the list whose
            # items shift, or the container that becomes empty (it turns into a {} / [] leaf).
            depth = len(trail) - 1
            if depth > 0 and (type(holder) is _Seq or len(holder) == 1):
                depth -= 1
            changes = self._changes_around(trail, norm, depth, lambda: holder.pop(key), source)
            if notify and changes:
                deliveries = self._publish(changes)
            removed = _plain(node)
        if deliveries:
            self._deliver(deliveries)
        return removed

    @contextmanager
    def source(self, tag: Any) -> Iterator[DataTree]:
        """Tag the changes this thread makes inside the block with ``tag`` (their ``.source``).

        Only this thread's changes are tagged (the tag is thread-local; other threads' changes
        made meanwhile are not), and with a ``scope`` only those made while the scope is the
        one that entered the block. Blocks nest: the innermost tag wins, the outer one is back
        after it. It does not hold the lock or batch; use ``group()`` inside it for that.
        ``tag`` must not be None (None is "no source").
        """
        if tag is None:
            raise ValueError("DataTree.source: the tag must not be None")
        local = self._local
        previous = getattr(local, "source", None)
        local.source = (tag, self._scope() if self._scope is not None else None)
        try:
            yield self
        finally:
            local.source = previous

    def _current_source(self) -> Any:
        """The tag of this thread's source block that applies now, or None."""
        entry = getattr(self._local, "source", None)
        if entry is None:
            return None
        tag, scope = entry
        if self._scope is not None and self._scope() is not scope:
            return None
        return tag

    @contextmanager
    def group(self) -> Iterator[DataTree]:
        """Batch every change made inside into one notification per subscriber.

        The group holds the tree's lock for its whole body, so other threads see all of its
        changes or none (there is no rollback: an exception keeps what was done and still
        notifies it). Keep groups short and never wait on another thread that uses this tree
        inside one. Nested groups notify once, at the outermost exit.
        """
        self._lock.acquire()
        self._depth += 1
        deliveries = None
        try:
            yield self
        finally:
            self._depth -= 1
            try:
                if self._depth == 0 and self._pending:
                    pending, self._pending = self._pending, []
                    deliveries = self._match(pending)
            finally:
                self._lock.release()
            if deliveries:
                self._deliver(deliveries)

    # -- reading ---------------------------------------------------------------------------
    def get(self, path: str, default: Any = None) -> Any:
        """The value at ``path``: a leaf's value, a branch as fresh plain dicts and lists, or
        ``default`` if nothing is there. ``''`` is the whole tree."""
        tokens = _tokens(path, "get", root=True)
        with self._lock:
            node = self._find(tokens)
            return default if node is _MISSING else _plain(node)

    def __contains__(self, path: str) -> bool:
        """True when something (a leaf, branch or list) is at ``path``."""
        tokens = _tokens(path, "__contains__", root=True)
        with self._lock:
            return self._find(tokens) is not _MISSING

    def dump(self) -> list[tuple[str, Any]]:
        """Every leaf as ``(path, value)`` in insertion order (empty branches and lists are
        listed with ``{}`` / ``[]``); ``set(pairs)`` of it rebuilds a tree without lists."""
        out: list = []
        with self._lock:
            for key, node in self._root.items():
                _flatten(node, (key,), key, out)
            return [(path, _copy_leaf(value)) for _tokens_, path, value in out]

    def dumps(self) -> str:
        """The tree as indented text, one key or list item per line (for logs and debugging)."""
        lines: list[str] = []
        with self._lock:
            self._dumps(self._root, 0, lines)
        return "\n".join(lines)

    def __repr__(self) -> str:
        with self._lock:
            return (f"<DataTree {len(self._root)} top-level keys, "
                    f"{len(self._subs)} subscriptions>")

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(self, path: str, callback: Callable[[list], Any], *, recursive: bool = True,
                  ignore_source: Any = None) -> int:
        """Call ``callback(changes)`` after every change at ``path`` or below it; return a token.

        ``changes`` is a fresh list of ``Change`` records, each unpacking as ``(leaf_path,
        new_value, old_value)`` with ``.source``, only those at or below ``path`` (exactly at
        it with ``recursive=False``; a ``*`` segment matches any one branch key), leaving out
        those whose source is ``ignore_source`` (when that is not None), once per
        ``set``/``remove`` (or batch, or group) that has any for it. Callbacks run after the
        lock is released, in the thread that made the change, in subscription order; an
        exception in one is logged on the ``tasktonic`` logger and the others still run.
        Changes made by one thread are notified in order; two threads' notifications may
        interleave (each change carries its old value).
        """
        tokens = _tokens(path, "subscribe", root=True, negative=False)
        if not callable(callback):
            raise TypeError(f"DataTree.subscribe: callback must be callable, "
                            f"got {type(callback).__name__}")
        with self._lock:
            token = next(self._next_token)
            self._subs[token] = _Subscription(token, tokens, _fmt(tokens), callback,
                                              bool(recursive), ignore_source)
            return token

    def unsubscribe(self, token_or_callback: Any) -> bool:
        """Stop a subscription by its token, or every subscription of a callback (compared with
        ``==``, so a bound method matches a fresh one of the same object); False if there was
        none (unknown token, already unsubscribed)."""
        if callable(token_or_callback):
            return self._unsubscribe_where(lambda callback: callback == token_or_callback) > 0
        with self._lock:
            return self._subs.pop(token_or_callback, None) is not None

    def _unsubscribe_where(self, match: Callable[[Callable], Any]) -> int:
        """Drop the subscriptions whose callback ``match`` accepts, under one lock hold."""
        with self._lock:
            doomed = [token for token, sub in self._subs.items() if match(sub.callback)]
            for token in doomed:
                del self._subs[token]
            return len(doomed)

    def subscriptions(self) -> list[tuple[int, str, Callable]]:
        """The live subscriptions as ``(token, path, callback)``, in subscription order."""
        with self._lock:
            return [(sub.token, sub.path, sub.callback) for sub in self._subs.values()]

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _batch(path: Any, value: Any) -> list:
        """Validate the arguments of ``set`` into ``[(tokens, path, value)]``."""
        if isinstance(path, str):
            return [(_tokens(path, "set", append=True), path, value)]
        if isinstance(path, (bytes, bytearray)) or not isinstance(path, (dict, Iterable)):
            raise TypeError(f"DataTree.set: path must be a str, a dict or an iterable of "
                            f"(path, value) pairs, got {type(path).__name__}")
        if value is not None:
            raise TypeError("DataTree.set: give the values inside the dict or pairs, "
                            "not as a separate value")
        pairs = path.items() if isinstance(path, dict) else path
        items = []
        for pair in pairs:
            try:
                text, item = pair
            except (TypeError, ValueError):
                raise TypeError(f"DataTree.set: expected (path, value) pairs, got {pair!r}"
                                ) from None
            items.append((_tokens(text, "set", append=True), text, item))
        return items

    def _find(self, tokens: tuple) -> Any:
        node: Any = self._root
        for token in tokens:
            if type(token) is int:
                if type(node) is not _Seq or not -len(node) <= token < len(node):
                    return _MISSING
                node = node[token]
            else:
                if type(node) is not _Branch:
                    return _MISSING
                node = node.get(token, _MISSING)
                if node is _MISSING:
                    return _MISSING
        return node

    def _set_one(self, tokens: tuple, path: str, value: Any, changes: list,
                 source: Any = None) -> None:
        built = _build(value, path)  # before any change: a bad value leaves the tree alone
        node: Any = self._root
        trail: list = []   # (holder, key) per depth
        norm: list = []    # the tokens with indexes resolved
        last = len(tokens) - 1
        create_at = None
        for i, token in enumerate(tokens):
            if token is _APPEND:
                key = len(node)
            elif type(token) is int:
                size = len(node)
                if not -size <= token < size:
                    raise IndexError(f"DataTree.set: index [{token}] out of range in {path!r} "
                                     f"({_fmt(norm)!r} has {size} items)")
                key = token + size if token < 0 else token
            else:
                key = token
            trail.append((node, key))
            norm.append(key)
            if i == last:
                break
            child = _child(node, key)
            following = tokens[i + 1]
            need_list = type(following) is not str
            if type(child) is _Branch:
                if need_list:
                    raise TypeError(f"DataTree.set: {_fmt(norm)!r} is a branch, not a list "
                                    f"(in {path!r})")
                node = child
                continue
            if type(child) is _Seq:
                if not need_list:
                    raise TypeError(f"DataTree.set: {_fmt(norm)!r} is a list; address its "
                                    f"items with [i] (in {path!r})")
                node = child
                continue
            if need_list:
                if child is not _MISSING:
                    raise TypeError(f"DataTree.set: {_fmt(norm)!r} holds a value, not a list "
                                    f"(in {path!r})")
                if following is not _APPEND:
                    raise IndexError(f"DataTree.set: index [{following}] out of range in "
                                     f"{path!r} (there is no list at {_fmt(norm)!r})")
            for later in tokens[i + 2:]:
                if type(later) is int:
                    raise IndexError(f"DataTree.set: index [{later}] out of range in {path!r} "
                                     "(that list does not exist yet)")
            create_at = i  # missing, or a leaf in the way: build the rest of the path here
            break
        if create_at is None:
            depth, new_node = last, built
        else:
            depth, new_node = create_at, built
            for token in reversed(tokens[create_at + 1:]):
                new_node = _Seq([new_node]) if token is _APPEND else _Branch({token: new_node})
        holder, key = trail[depth]
        scope = depth
        if scope > 0 and not holder:
            scope -= 1  # an empty container stops being a {} / [] leaf

        def mutate() -> None:
            if type(holder) is _Seq and key == len(holder):
                holder.append(new_node)
            else:
                holder[key] = new_node

        changes.extend(self._changes_around(trail, norm, scope, mutate, source))

    @staticmethod
    def _changes_around(trail: list, norm: list, depth: int, mutate: Callable,
                        source: Any = None) -> list:
        """Run ``mutate`` and return the leaf changes of the node at ``trail[depth]``."""
        holder, key = trail[depth]
        tokens = tuple(norm[:depth + 1])
        path = _fmt(tokens)
        before: list = []
        _flatten(_child(holder, key), tokens, path, before)
        mutate()
        after: list = []
        _flatten(_child(holder, key), tokens, path, after)
        return _diff(before, after, source)

    def _publish(self, changes: list) -> list | None:
        """With the lock held: keep ``changes`` for the group, or match them to subscribers."""
        if self._depth:
            self._pending.extend(changes)
            return None
        return self._match(changes)

    def _match(self, changes: list) -> list:
        """With the lock held: ``[(subscription, its changes)]`` in subscription order."""
        deliveries = []
        for sub in self._subs.values():
            prefix = sub.tokens
            size = len(prefix)
            if sub.wild:
                recursive = sub.recursive
                mine = [c for c in changes if _wild_match(prefix, c[0], recursive)]
            elif not sub.recursive:
                mine = [c for c in changes if c[0] == prefix]
            elif size:
                mine = [c for c in changes if c[0][:size] == prefix]
            else:
                mine = changes
            ignore = sub.ignore
            if ignore is not None and mine:
                mine = [c for c in mine if c[4] is None or c[4] != ignore]
            if mine:
                deliveries.append((sub, mine))
        return deliveries

    @staticmethod
    def _deliver(deliveries: list) -> None:
        """Without the lock: call each subscriber with its own copy of its changes."""
        for sub, mine in deliveries:
            payload = [Change(path, _copy_leaf(new), _copy_leaf(old), source)
                       for _t, path, new, old, source in mine]
            try:
                sub.callback(payload)
            except Exception:
                _log.error("tasktonic: DataTree subscriber %r on path %r raised (changes: %s)",
                           sub.callback, sub.path, ", ".join(c[0] for c in payload),
                           exc_info=True)

    def _dumps(self, node: Any, indent: int, lines: list) -> None:
        pad = "  " * indent
        items = node.items() if type(node) is _Branch else (
            (f"[{i}]", item) for i, item in enumerate(node))
        for label, item in items:
            cls = type(item)
            if cls is _Branch or cls is _Seq:
                if item:
                    lines.append(f"{pad}{label}")
                    self._dumps(item, indent + 1, lines)
                else:
                    lines.append(f"{pad}{label}: {'{}' if cls is _Branch else '[]'}")
            else:
                lines.append(f"{pad}{label}: {item!r}")
