"""Stream checkpoints: the complete training state at a period boundary, written atomically.

A checkpoint (JSON, format `rct-tflm-stream-checkpoint` version 1) holds what the stream was
(model hash, data, seeds, batch, hyper-parameters), how far it got (`samples_done`, always a
multiple of the decision period), the board's trainable state (the WEIGHTS_READ blob, base64:
values, bitwidths and exponents) and the host-side record so far (bitwidth changes, loss and
throughput traces, accuracy before training, link counters). See docs/protocol.md, "Streaming".
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from ..errors import UserError
from .atomic import write_json
from .versioned import check

FORMAT = "rct-tflm-stream-checkpoint"
VERSION = 1
# Fields a resumed run must share with the checkpoint (the stream they define must be the same).
IDENTITY = ("model_hash", "data", "split_seed", "seed", "batch", "hparams")


def save_checkpoint(path: Path, state: dict, blob: bytes) -> None:
    write_json(path, {"format": FORMAT, "version": VERSION, **state,
                             "weights_b64": base64.b64encode(blob).decode("ascii"),
                             "weights_blob_sha256": hashlib.sha256(blob).hexdigest()})


def load_checkpoint(path: str | os.PathLike) -> tuple[dict, bytes]:
    p = Path(path)
    fix = "pass the checkpoint.json a stream wrote into its --out folder"
    if not p.is_file():
        raise UserError(f"checkpoint '{p}' does not exist; {fix}")
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"corrupt checkpoint '{p}' ({type(e).__name__}: {e}); {fix}") from None
    if isinstance(d, dict) and d.get("format") != FORMAT:
        raise UserError(f"'{p}' is not a stream checkpoint; {fix}")
    check(d, p, FORMAT, VERSION, "rct-tflm stream")
    try:
        blob = base64.b64decode(d.pop("weights_b64"), validate=True)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"corrupt checkpoint '{p}' ({type(e).__name__}: {e}); {fix}") from None
    if hashlib.sha256(blob).hexdigest() != d.get("weights_blob_sha256"):
        raise UserError(f"corrupt checkpoint '{p}': the weights do not match their checksum; "
                        f"restart the stream without --resume")
    return d, blob


def check_compatible(ck: dict, identity: dict, path: str) -> None:
    """Refuse to resume a different stream (another model, data, seed, batch or hparams)."""
    for key in IDENTITY:
        if ck.get(key) != identity.get(key):
            raise UserError(f"checkpoint {path} was made with {key}={ck.get(key)!r}, this run "
                            f"has {key}={identity.get(key)!r}; resume with the same options")
