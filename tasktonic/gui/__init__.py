"""GUI event loops as main catalysts: tonics on them may touch widgets directly.

``tasktonic.gui.qt.ttQtCatalyst`` (PySide6, ``pip install 'tasktonic[qt]'``) runs in
``QApplication.exec()``; ``tasktonic.gui.tk.ttTkCatalyst`` (tkinter) in ``Tk.mainloop()``.
Create one in ``creating_main_catalyst``. Sparkles from other catalysts wake the GUI loop at
once; between batches of sparkles the GUI handles its own events. Closing the last window
finishes the application; finishing the application ends the GUI loop. A sparkle called from
a GUI callback (a button's ``clicked``) is queued like one called from a sparkle: its arguments
are not copied, and it runs after the callback returns. Each module is imported on use, so
this package needs neither toolkit.
"""
