"""The leg sensor's wire protocol: frames, the sans-I/O codec, the GATT layout. Imports nothing of ours."""


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
