"""The application: BLE recorder, cramp log, morning summary, HTML report and the ``cramp`` CLI.

The only layer that imports all the others.
"""

__version__ = "0.1.0"
