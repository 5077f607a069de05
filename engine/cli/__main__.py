"""``python -m engine.cli``: the ``dialplan`` command."""

from engine.cli.main import main

main()
