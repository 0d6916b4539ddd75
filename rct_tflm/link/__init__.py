"""Host side of the serial link to a board (docs/protocol.md): framing, session, transports."""
from .framing import Frame, FrameDecoder, cobs_decode, cobs_encode, crc16, encode_frame
from .messages import PROTO_VERSION, HParams, Hello, Stats
from .session import BoardReset, DeviceFault, Link, LinkError, NakError
from .transport import HostFirmware, open_port

__all__ = ["Frame", "FrameDecoder", "cobs_decode", "cobs_encode", "crc16", "encode_frame",
           "PROTO_VERSION", "HParams", "Hello", "Stats", "BoardReset", "DeviceFault", "Link", "LinkError",
           "NakError", "HostFirmware", "open_port"]
