"""``python -m archgym.cli``: the ``archgym`` command line."""

from archgym.cli import app

app()
