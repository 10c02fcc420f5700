"""nightcramp host side: sources, the streaming cramp detector, recorder, log and summary."""

__version__ = "0.1.0"
