"""GUI main catalysts (Qt offscreen, Tk under Xvfb): widgets, clicks and cross-thread sparkles.

Each scenario runs on both toolkits through a small adapter. A GUI application runs in the
test's own thread (Qt's QApplication belongs to the main thread), under a watchdog that
finishes it and fails the test if it hangs.
"""
from __future__ import annotations

import gc
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tasktonic import ttCatalyst, ttFormula, ttLedger, ttTonic

TIMEOUT = 30.0
COUNT = 10_000


class Toolkit:
    """What a scenario needs from a toolkit, on the GUI thread."""

    catalyst: type[ttCatalyst]

    def label(self) -> Any: ...
    def text(self, label: Any) -> str: ...
    def set_text(self, label: Any, text: str) -> None: ...
    def button(self, on_click: Callable[[], None]) -> Any: ...
    def click_later(self, button: Any) -> None: ...
    def ticker(self, on_tick: Callable[[], None]) -> None: ...
    def close_window_later(self) -> None: ...
    def reset(self) -> None:
        """The application has ended: the next one starts with fresh widgets."""


class Qt(Toolkit):
    def __init__(self) -> None:
        from PySide6 import QtCore, QtGui, QtWidgets

        from tasktonic.gui.qt import ttQtCatalyst
        self.QtCore, self.QtGui, self.QtWidgets = QtCore, QtGui, QtWidgets
        self.catalyst = ttQtCatalyst
        self.window: Any = None
        self.timers: list[Any] = []

    def _window(self) -> Any:
        if self.window is None:
            self.window = self.QtWidgets.QWidget()
            self.window.setLayout(self.QtWidgets.QVBoxLayout())
            self.window.show()
        return self.window

    def label(self) -> Any:
        label = self.QtWidgets.QLabel("-")
        self._window().layout().addWidget(label)
        return label

    def text(self, label: Any) -> str:
        return str(label.text())

    def set_text(self, label: Any, text: str) -> None:
        label.setText(text)

    def button(self, on_click: Callable[[], None]) -> Any:
        button = self.QtWidgets.QPushButton("go")
        button.clicked.connect(on_click)
        self._window().layout().addWidget(button)
        return button

    def click_later(self, button: Any) -> None:
        """A real mouse click, posted: Qt delivers it from its event loop."""
        QtCore, QtGui = self.QtCore, self.QtGui
        button.resize(80, 30)
        pos = QtCore.QPointF(button.rect().center())
        left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
        for kind, buttons in ((QtCore.QEvent.Type.MouseButtonPress, left),
                              (QtCore.QEvent.Type.MouseButtonRelease, none)):
            event = QtGui.QMouseEvent(kind, pos, button.mapToGlobal(pos), left, buttons,
                                      QtCore.Qt.KeyboardModifier.NoModifier)
            QtCore.QCoreApplication.postEvent(button, event)

    def ticker(self, on_tick: Callable[[], None]) -> None:
        timer = self.QtCore.QTimer()
        timer.timeout.connect(on_tick)
        timer.start(0)
        self.timers.append(timer)

    def close_window_later(self) -> None:
        self.QtCore.QTimer.singleShot(0, self._window().close)

    def reset(self) -> None:
        self.window = None
        self.timers.clear()


class Tk(Toolkit):
    def __init__(self) -> None:
        from tasktonic.gui.tk import ttTkCatalyst
        self.catalyst = ttTkCatalyst

    def _root(self) -> Any:
        return ttLedger().main_catalyst.tk_root  # type: ignore[union-attr]

    def label(self) -> Any:
        import tkinter
        label = tkinter.Label(self._root(), text="-")
        label.pack()
        return label

    def text(self, label: Any) -> str:
        return str(label.cget("text"))

    def set_text(self, label: Any, text: str) -> None:
        label.config(text=text)

    def button(self, on_click: Callable[[], None]) -> Any:
        import tkinter
        button = tkinter.Button(self._root(), text="go", command=on_click)
        button.pack()
        return button

    def click_later(self, button: Any) -> None:
        self._root().after(0, button.invoke)

    def ticker(self, on_tick: Callable[[], None]) -> None:
        root = self._root()

        def tick() -> None:
            on_tick()
            root.after(1, tick)
        root.after(1, tick)

    def close_window_later(self) -> None:
        root = self._root()
        root.after(0, root.destroy)


@pytest.fixture(scope="session")
def qt_toolkit() -> Qt:
    pytest.importorskip("PySide6", reason="PySide6 is not installed (tasktonic[qt])")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return Qt()


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """A private X display: Xvfb on a free display number, stopped by its pid at the end."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb)")
    read, write = os.pipe()
    process = subprocess.Popen([xvfb, "-displayfd", str(write), "-nolisten", "tcp"],
                               pass_fds=(write,), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as numbers:
        number = numbers.readline().strip()
    if not number:
        process.kill()
        process.wait()
        pytest.skip("Xvfb did not start")
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{number}"
    try:
        yield os.environ["DISPLAY"]
    finally:
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous
        process.terminate()
        process.wait()


@pytest.fixture(scope="session")
def tk_toolkit(xvfb_display: str) -> Tk:
    tkinter = pytest.importorskip("tkinter")
    try:
        tkinter.Tk().destroy()
    except tkinter.TclError as exc:
        pytest.skip(f"Tk cannot open display {xvfb_display}: {exc}")
    return Tk()


@pytest.fixture(params=["qt", "tk"])
def toolkit(request: pytest.FixtureRequest) -> Toolkit:
    toolkit: Toolkit = request.getfixturevalue(f"{request.param}_toolkit")
    return toolkit


def run_gui(toolkit: Toolkit, starting: Callable[[], Any]) -> None:
    """Run the application in this thread; the watchdog ends it after TIMEOUT seconds."""
    hung = threading.Event()

    def watchdog() -> None:
        hung.set()
        main = ttLedger().main_catalyst
        if main is not None:
            main.finish()

    class App(ttFormula):
        def creating_formula(self) -> Any:
            return (("tasktonic/log/to", "off"),)

        def creating_main_catalyst(self) -> None:
            toolkit.catalyst()

        def creating_starting_tonics(self) -> None:
            starting()

    timer = threading.Timer(TIMEOUT, watchdog)
    timer.start()
    try:
        App()
    finally:
        timer.cancel()
        toolkit.reset()
        gc.collect()  # the widgets of this application die on this (the GUI) thread
    assert not hung.is_set(), f"the GUI application did not end within {TIMEOUT}s"


class Worker(ttCatalyst):
    def ttsc__square(self, n: int) -> None:
        self.base.ttse__on_square(n * n)

    def ttsc__count(self, count: int) -> None:
        for i in range(count):
            self.base.ttse__on_item(i)


def test_a_worker_catalysts_result_updates_a_widget(toolkit: Toolkit) -> None:
    seen: list[str] = []

    class Ui(ttTonic):
        def ttse__on_start(self) -> None:
            self.label = toolkit.label()
            Worker().ttsc__square(7)

        def ttse__on_square(self, value: int) -> None:
            toolkit.set_text(self.label, str(value))  # a widget, touched from a sparkle
            seen.append(toolkit.text(self.label))
            self.finish()

    run_gui(toolkit, Ui)
    assert seen == ["49"]


def test_a_click_reaches_a_tonic_as_a_sparkle(toolkit: Toolkit) -> None:
    clicks: list[tuple[bool, bool]] = []

    class Ui(ttTonic):
        def ttse__on_start(self) -> None:
            self.data = ["clicked"]
            button = toolkit.button(lambda: self.ttsc__clicked(self.data))
            toolkit.click_later(button)

        def ttsc__clicked(self, data: list[str]) -> None:
            clicks.append((self.catalyst.on_own_thread(), data is self.data))
            self.finish()

    run_gui(toolkit, Ui)
    assert clicks == [(True, True)]  # run as a sparkle on the GUI catalyst, not copied


def test_ten_thousand_cross_thread_sparkles_arrive_in_order_while_the_gui_runs(
        toolkit: Toolkit) -> None:
    got: list[int] = []
    ticks = {"now": 0, "first": -1, "last": -1}

    class Ui(ttTonic):
        def ttse__on_start(self) -> None:
            toolkit.ticker(self._tick)
            Worker().ttsc__count(COUNT)

        def _tick(self) -> None:
            ticks["now"] += 1

        def ttse__on_item(self, i: int) -> None:
            got.append(i)
            if i == 0:
                ticks["first"] = ticks["now"]
            if len(got) == COUNT:
                ticks["last"] = ticks["now"]
                self.finish()

    run_gui(toolkit, Ui)
    assert got == list(range(COUNT))
    assert ticks["last"] > ticks["first"]  # the GUI's timer fired while they arrived


def test_closing_the_last_window_finishes_the_application(toolkit: Toolkit) -> None:
    finished: list[str] = []

    class Ui(ttTonic):
        def ttse__on_start(self) -> None:
            self.label = toolkit.label()
            toolkit.close_window_later()

        def ttse__on_finished(self) -> None:
            finished.append(self.name)

    run_gui(toolkit, Ui)
    assert len(finished) == 1


def test_a_gui_catalyst_is_a_main_catalyst_only(toolkit: Toolkit) -> None:
    errors: list[str] = []

    class Ui(ttTonic):
        def ttse__on_start(self) -> None:
            try:
                toolkit.catalyst(name="second")
            except TypeError as exc:
                errors.append(str(exc))
            self.finish()

    run_gui(toolkit, Ui)
    assert "main catalyst" in errors[0]


def test_the_tk_example_counts_in_a_worker_and_shows_it(tk_toolkit: Tk) -> None:
    from examples import gui_counter
    results: list[int] = []

    class Window(gui_counter.Window):
        def ttse__on_finished(self) -> None:
            results.append(self.result)  # not the tonic: its widgets die with the application

    run_gui(tk_toolkit, lambda: Window(upto=5000, close_when_done=True))
    assert results == [669]  # primes below 5000
