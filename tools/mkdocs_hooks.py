"""mkdocs hook: the package's numpydoc cross-reference roles as code on the API pages.

Docstrings use Sphinx roles (``:func:`~medtrust.selective.aurc```), which mkdocstrings renders
literally (``:func:<code>~medtrust.selective.aurc</code>``). This hook shows them as the code
name Sphinx would display (the last component after ``~``), so the pages read cleanly.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:func|meth|class|mod|data|attr|exc|obj):<code>(~?)([^<]+)</code>")


def _display(m: re.Match[str]) -> str:
    target = m.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if m.group(1) else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Replace every role with its display name in code."""
    return _ROLE.sub(_display, html)
