"""Runnable examples; ``python -m examples`` (``make demo``) runs the seed examples."""
