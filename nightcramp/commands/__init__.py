"""One module per ``cramp`` command group; :mod:`nightcramp.cli` imports each only when used."""
