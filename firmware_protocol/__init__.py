"""The leg sensor's wire protocol (sans-I/O codec), its emulated firmware, and test tooling."""


class ProtocolError(ValueError):
    """Bytes that are not a valid frame or command; the message says exactly what is wrong."""
