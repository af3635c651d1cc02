"""A Tk window fed by a worker catalyst (``python -m examples.gui_counter``; needs a display).

The window's tonic runs on the Tk main catalyst, so it updates its label directly; the worker
counts primes in its own thread and reports progress as sparkles, which wake Tk at once. The
Stop button's callback calls a sparkle; closing the window finishes the application too.
"""
from __future__ import annotations

import tkinter

from tasktonic import *
from tasktonic.gui.tk import ttTkCatalyst


class PrimeCounter(ttCatalyst):                  # a worker: its own thread
    def ttsc__count(self, upto):
        primes = 0
        for n in range(2, upto):
            if all(n % d for d in range(2, int(n ** 0.5) + 1)):
                primes += 1
            if n % 1000 == 0:
                self.base.ttse__on_progress(n, primes)
        self.base.ttse__on_done(primes)


class Window(ttTonic):
    def __init__(self, upto=200_000, close_when_done=False, **kwargs):
        super().__init__(**kwargs)
        self.upto = upto
        self.close_when_done = close_when_done
        self.result = None

    def ttse__on_start(self):
        root = self.catalyst.tk_root
        root.title('tasktonic + Tk')
        self.label = tkinter.Label(root, text='counting primes...', width=40)
        self.label.pack(padx=20, pady=10)
        tkinter.Button(root, text='Stop', command=self.ttsc__stop).pack(pady=10)
        PrimeCounter().ttsc__count(self.upto)

    def ttse__on_progress(self, n, primes):
        self.label.config(text=f'{primes} primes below {n}')

    def ttse__on_done(self, primes):
        self.result = primes
        self.label.config(text=f'{primes} primes below {self.upto}: done')
        if self.close_when_done:
            self.finish()

    def ttsc__stop(self):
        self.finish()


class GuiCounterApp(ttFormula):
    def creating_formula(self):
        return (('tasktonic/log/to', 'off'),)

    def creating_main_catalyst(self):
        ttTkCatalyst()

    def creating_starting_tonics(self):
        Window()


if __name__ == '__main__':
    GuiCounterApp()
