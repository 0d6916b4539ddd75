"""Write the seed corpus: one valid request of every type for the digits MLP (64 inputs)."""
import struct, sys
from pathlib import Path
from rct_tflm.link import messages as m
from rct_tflm.link.framing import encode_frame
out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
x = bytes(range(64))
hp = m.HParams(5, 6554, 32768, 5000, 512, 7).pack()
seeds = {
 "hello": encode_frame(m.HELLO, 1, struct.pack("<I", 0x1234)),
 "hello_train_stats": encode_frame(m.HELLO, 1, struct.pack("<I", 9)) + encode_frame(m.RESET, 2, struct.pack("<I", 3)) + encode_frame(m.TRAIN, 3, bytes([1, 1]) + x + b"\x03") + encode_frame(m.STATS, 4),
 "train2": encode_frame(m.TRAIN, 5, bytes([1, 2]) + x + x + b"\x01\x09"),
 "infer": encode_frame(m.INFER, 6, bytes([1, 1]) + x),
 "weights_rw": encode_frame(m.WEIGHTS_READ, 7, struct.pack("<IH", 0, 32)) + encode_frame(m.WEIGHTS_WRITE, 8, struct.pack("<I", 0) + b"\x08\xfd" + bytes(8)),
 "hparams": encode_frame(m.SET_HPARAMS, 9, hp) + encode_frame(m.HPARAMS_GET, 10),
 "digest": encode_frame(m.DIGEST, 11),
 "staged": encode_frame(m.SAMPLE_WRITE, 12, struct.pack("<I", 0) + x[:40]) + encode_frame(m.SAMPLE_WRITE, 13, struct.pack("<I", 40) + x[40:]) + encode_frame(m.INFER_STAGED, 14, bytes([1, 1])) + encode_frame(m.TRAIN_STAGED, 15, bytes([1, 1, 2])),
 "garbage": b"\x13\x37\x42\x00\x00\x01",
}
for k, v in seeds.items():
    (out / k).write_bytes(v)
