"""Public names whose docstrings still lack numpydoc sections, with the owning area.

Checked by ``test_numpydoc_sections.py``: the list may only shrink. The owners add the
``Parameters`` / ``Returns`` sections and delete their lines here.
"""

PENDING: dict[str, str] = {}
