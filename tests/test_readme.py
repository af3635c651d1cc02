"""Every Python snippet in the README runs as written, each in a fresh interpreter."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if README.exists() else []


def test_readme_has_snippets():
    if not README.exists():
        pytest.skip("README.md is not beside the tests (installed-wheel run)")
    assert len(SNIPPETS) >= 6


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.splitlines()[2][:40] if len(s.splitlines()) > 2 else str(i) for i, s in enumerate(SNIPPETS)])
def test_readme_snippet_runs(snippet: str) -> None:
    done = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, f"snippet failed:\n{snippet}\n--- stderr:\n{done.stderr}"
