"""The ``nightshift`` command line (typer): ``app`` (shared options), one module per command group, ``main``
(registers them all)."""
