"""``python -m udl`` is the ``udl`` command."""

from udl.cli import entry

entry()
