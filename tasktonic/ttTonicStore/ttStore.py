"""``TaskTonic.ttTonicStore.ttStore``: the data store service (re-exported)."""
from ..store import ttStore

__all__ = ["ttStore"]
