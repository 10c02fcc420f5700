"""The leg sensor's wire protocol (sans-I/O codec), its emulated firmware, and test tooling."""


class ProtocolError(ValueError):
    """Bytes that are not a valid frame or command; the message says exactly what is wrong."""


# Re-exports (defined after ProtocolError: codec imports it from here).
from firmware_protocol.codec import (  # noqa: E402
    AckFrame,
    Batch,
    Command,
    ConfigFrame,
    Configure,
    DataFrame,
    Fragmenter,
    Frame,
    LossFrame,
    ReadConfig,
    Resend,
    StartStreaming,
    StatusFrame,
    StopStreaming,
    StreamDecoder,
    SyncFrame,
    TimeSync,
    decode_batch,
    decode_command,
    decode_frame,
    encode_command,
    encode_frame,
    fragment,
)

__all__ = [
    "AckFrame",
    "Batch",
    "Command",
    "ConfigFrame",
    "Configure",
    "DataFrame",
    "Fragmenter",
    "Frame",
    "LossFrame",
    "ProtocolError",
    "ReadConfig",
    "Resend",
    "StartStreaming",
    "StatusFrame",
    "StopStreaming",
    "StreamDecoder",
    "SyncFrame",
    "TimeSync",
    "decode_batch",
    "decode_command",
    "decode_frame",
    "encode_command",
    "encode_frame",
    "fragment",
]
