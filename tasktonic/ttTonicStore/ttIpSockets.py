"""``TaskTonic.ttTonicStore.ttIpSockets`` (seed 002 §5A): the selector catalyst and sockets.

``SelectorHandler`` is the name seed 002 gives the selector catalyst; it is
``tasktonic.selector.ttSelectorCatalyst`` (re-exported, as are the TCP/UDP tonics).
"""
from ..net import ttTcpClient, ttTcpConnection, ttTcpServer, ttUdpSocket
from ..selector import EVENT_READ, EVENT_WRITE, ttSelectorCatalyst

SelectorHandler = ttSelectorCatalyst

__all__ = ["SelectorHandler", "ttSelectorCatalyst", "EVENT_READ", "EVENT_WRITE", "ttTcpClient",
           "ttTcpConnection", "ttTcpServer", "ttUdpSocket"]
