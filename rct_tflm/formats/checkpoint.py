"""Stream checkpoints: the complete training state at a period boundary, written atomically.

A checkpoint (JSON, format `rct-tflm-stream-checkpoint` version 1) holds what the stream was
(model hash, data, seeds, batch, hyper-parameters), how far it got (`samples_done`, always a
multiple of the decision period), the board's trainable state (the WEIGHTS_READ blob, base64:
values, bitwidths and exponents) and the host-side record so far (bitwidth changes, loss and
throughput traces, accuracy before training, link counters). See docs/protocol.md, "Streaming".

A fleet checkpoint (`rct-tflm-fleet-checkpoint`, FLEET_FORMAT) has the same layout: the global
model after the last finished round and the fleet's record (docs/fleet.md).
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
FLEET_FORMAT, FLEET_VERSION = "rct-tflm-fleet-checkpoint", 1
# Fields a resumed run must share with the checkpoint (the stream they define must be the same).
IDENTITY = ("model_hash", "data", "split_seed", "seed", "batch", "hparams")


def save_checkpoint(path: Path, state: dict, blob: bytes, fmt: str = FORMAT,
                    version: int = VERSION) -> None:
    """`state` and the weights blob (base64, with its SHA-256) as one atomic JSON file."""
    write_json(path, {"format": fmt, "version": version, **state,
                      "weights_b64": base64.b64encode(blob).decode("ascii"),
                      "weights_blob_sha256": hashlib.sha256(blob).hexdigest()})


def load_checkpoint(path: str | os.PathLike, fmt: str = FORMAT, version: int = VERSION,
                    writer: str = "rct-tflm stream",
                    fix: str = "pass the checkpoint.json a stream wrote into its --out folder"
                    ) -> tuple[dict, bytes]:
    """(state, weights blob) of a checkpoint written by save_checkpoint, checked: format,
    version, base64 and checksum; else a one-line UserError ending with `fix`."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"checkpoint '{p}' does not exist; {fix}")
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"corrupt checkpoint '{p}' ({type(e).__name__}: {e}); {fix}") from None
    if isinstance(d, dict) and d.get("format") != fmt:
        raise UserError(f"'{p}' is not a {writer.split()[-1]} checkpoint; {fix}")
    check(d, p, fmt, version, writer)
    try:
        blob = base64.b64decode(d.pop("weights_b64"), validate=True)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"corrupt checkpoint '{p}' ({type(e).__name__}: {e}); {fix}") from None
    if hashlib.sha256(blob).hexdigest() != d.get("weights_blob_sha256"):
        raise UserError(f"corrupt checkpoint '{p}': the weights do not match their checksum; "
                        f"restart without --resume")
    return d, blob


def refuse_unfinished(out: Path, result: str, checkpoint: str, resume: str | None,
                      what: str) -> None:
    """--out must be a folder, and one holding an unfinished run's checkpoint (a checkpoint, no
    result file) is only written again by resuming that run."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder; give a folder path")
    if (out / checkpoint).is_file() and not (out / result).is_file() and not resume:
        raise UserError(f"--out {out} holds the checkpoint of an unfinished {what}; resume it "
                        f"with --resume {out / checkpoint} or choose another --out")


def check_compatible(ck: dict, identity: dict, path: str,
                     keys: tuple[str, ...] = IDENTITY) -> None:
    """Refuse to resume a different run (another model, data, seed, batch or hparams)."""
    for key in keys:
        if ck.get(key) != identity.get(key):
            raise UserError(f"checkpoint {path} was made with {key}={ck.get(key)!r}, this run "
                            f"has {key}={identity.get(key)!r}; resume with the same options")
