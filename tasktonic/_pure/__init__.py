"""The pure-Python twins of the four hot paths: loop, dispatch, copy, timerheap.

Always importable, whichever implementation runs, so tests can compare them with the
compiled twins in ``tasktonic._core`` in one process.
"""
