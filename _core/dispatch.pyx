# cython: language_level=3
"""The per-class sparkle dispatch table (compiled twin of ``tasktonic/_pure/dispatch.py``).

When a tonic class is created, its sparkles are found once: methods named
``prefix[_state]__name`` with prefix ``ttsc`` (command), ``ttse`` (event), ``tts`` (internal),
``_tts`` (private) or ``_ttss`` (system). For each ``prefix__name`` there is one
``SparkleEntry`` whose ``table`` holds the handler per state index: index 0 is "no active
state" (the generic handler), index ``i`` the handler for state ``i`` (its specific handler, else
the generic one), and the last slot is always None (a completed tonic's index). A missing
handler is None: the loop skips it.

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
# Here the discovery (cold, once per class) is the pure twin's own code; the sparkle method is a
# compiled closure whose queued call appends straight into the loop's C ring of work orders.

from tasktonic._pure.dispatch import PREFIXES, describe_sparkle_method, parse_sparkle_name
from tasktonic._pure.dispatch import build_class_sparkles as _discover

from tasktonic._core.loop cimport SparkleEntry, SparkleLoop

__all__ = ["PREFIXES", "SparkleEntry", "parse_sparkle_name", "build_class_sparkles"]

globals()["SparkleEntry"] = SparkleEntry  # the Python-level name, as in the pure twin

cdef extern from "Python.h":
    unsigned long PyThread_get_thread_ident()


def build_class_sparkles(cls, declared_states=(), *, entry_type=SparkleEntry,
                         make_method=None):
    """Find the sparkles of ``cls`` (once, at class creation) and install its sparkle methods.

    Returns ``(entries, state_names)``: the entry per generic sparkle name and the class's
    states in index order (index ``i + 1`` in every table is ``state_names[i]``). The compiled
    twin reuses this discovery and passes its own ``entry_type`` and ``make_method``.
    """
    return _discover(cls, tuple(declared_states), entry_type=entry_type,
                     make_method=make_method or _make_sparkle_method)


cdef inline object _queue(object tonic, SparkleEntry entry, object owner, tuple args,
                          dict kwargs):
    if type(tonic) is not owner:  # reached through super() or Base.x(self): run it now
        return entry.call_now(tonic, args, kwargs)
    cdef SparkleLoop loop = <SparkleLoop?>tonic._tt_loop
    if loop._thread_id == PyThread_get_thread_ident():
        loop.push_order(tonic, entry, args, kwargs if kwargs else None)
    else:
        loop.push_threadsafe(tonic, entry, args, kwargs)
    return None


def _make_sparkle_method(SparkleEntry entry, object owner, original):
    """The queued-call method installed under a sparkle's name on ``owner``."""
    def sparkle_method(self, *args, **kwargs):
        return _queue(self, entry, owner, args, kwargs)
    return describe_sparkle_method(sparkle_method, entry, owner, original)
