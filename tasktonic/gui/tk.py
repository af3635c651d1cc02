"""ttTkCatalyst: the main catalyst inside ``Tk.mainloop()`` (tkinter).

Wake-ups from other threads are a byte on a socket pair that Tk watches
(``createfilehandler``, POSIX only): a worker never waits for the Tk thread, as a cross-thread
Tcl call would. The catalyst's timers are one ``after`` callback. The catalyst creates the
``Tk`` root (``tk_root``), in the thread that creates it. Finishing the application ends
``mainloop`` and destroys the root; closing the root window finishes the application.
"""
from __future__ import annotations

import gc
import math
import socket
import tkinter
from collections.abc import Callable
from typing import Any

from ..foreign import ForeignLoop, ttForeignCatalyst

__all__ = ["ttTkCatalyst", "TkLoop"]


class TkLoop(ForeignLoop):
    """A sparkle loop run in batches by Tk's event loop."""

    def __init__(self, on_error: Callable) -> None:
        super().__init__(on_error)
        self._root: tkinter.Tk | None = tkinter.Tk()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.root.createfilehandler(self._wake_r, tkinter.READABLE, self._readable)
        self._after: str | None = None

    @property
    def root(self) -> tkinter.Tk:
        """The ``Tk`` root (a RuntimeError once the catalyst has ended)."""
        if self._root is None:
            raise RuntimeError("tasktonic: the Tk catalyst has ended: its root is destroyed")
        return self._root

    def schedule(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # full (the loop will wake anyway) or closed (the catalyst has ended)

    def _readable(self, _fileobj: Any, _mask: int) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass
        self.batch()

    def arm(self, delay: float | None) -> None:
        if self._after is not None:
            self.root.after_cancel(self._after)
        self._after = (None if delay is None
                       else self.root.after(math.ceil(delay * 1000), self._timer_fired))

    def _timer_fired(self) -> None:
        self._after = None
        self.timer_due()

    def run_foreign(self) -> None:
        self.begin()
        self.root.mainloop()

    def quit_foreign(self) -> None:
        self.root.quit()

    def close(self) -> None:
        """Close as a sparkle loop, on the Tk thread: Tk objects must die on their own thread
        (one freed by another thread's garbage collection would abort the process), so the
        root is destroyed and released here, and so is the application's cyclic garbage."""
        super().close()
        root, self._root = self._root, None
        if root is not None:
            try:
                root.deletefilehandler(self._wake_r)
                root.destroy()
            except tkinter.TclError:
                pass  # the window was closed: the root is gone already
        del root
        self._wake_r.close()
        self._wake_w.close()
        gc.collect()


class ttTkCatalyst(ttForeignCatalyst):
    """The main catalyst running in Tk's event loop: tonics on it may touch widgets."""

    _tt_loop_class = TkLoop
    _tt_sparkle_loop: TkLoop

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        if self.id != 0:
            raise TypeError("tasktonic: ttTkCatalyst is a main catalyst: create it in "
                            "creating_main_catalyst()")
        super().__init__(name=name, **kwargs)

    @property
    def tk_root(self) -> tkinter.Tk:
        """The ``Tk`` root window."""
        return self._tt_sparkle_loop.root
