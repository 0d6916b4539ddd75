"""A Flower client that is a thin adapter around one board's link session.

Every round (`fit`), the board is set to the round's start exactly as a resumed stream is
(docs/fleet.md): HELLO, RESET(round seed), SET_HPARAMS (round seed, --lr, period), the global
weights and bitwidths written and confirmed by the board's DIGEST; then the board's shard is
streamed in the documented sample order (rct_tflm.data.run_order with the round seed); finally
STATS and the weights are read and confirmed. Only integers cross the link and only weights
leave the board: never a sample, a label or a gradient.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

import numpy as np
from flwr.client import NumPyClient

from ..fixedpoint.prng import REKEY_STRIDE
from ..link import LinkError
from ..stream.schedule import Schedule
from ..stream.session import check_hello, confirm_digest
from .board_handle import BoardHandle
from .params import arrays_to_blob, blob_to_arrays

BOARD_STRIDE = 0x85EBCA6B  # odd, and unrelated to REKEY_STRIDE: no two (round, board) collide


def round_seed(seed: int, round_no: int, board: int) -> int:
    """The PRNG key and sample-order seed of `board` in round `round_no` (1-based)."""
    return (int(seed) + int(round_no) * REKEY_STRIDE + (int(board) + 1) * BOARD_STRIDE) \
        & 0xFFFFFFFF


@dataclass(frozen=True)
class RoundPlan:
    """What the server asks of every board in one round (Flower's fit config)."""
    round_no: int
    seed: int
    local_epochs: int
    batch: int
    lr_shift: int | None
    period_samples: int | None
    kill: bool = False  # fault drill: this board loses power halfway through its shard

    def config(self) -> dict:
        return {"round": self.round_no, "seed": self.seed, "local_epochs": self.local_epochs,
                "batch": self.batch, "lr_shift": -1 if self.lr_shift is None else self.lr_shift,
                "period_samples": self.period_samples or 0, "kill": self.kill}

    @classmethod
    def from_config(cls, c: dict) -> "RoundPlan":
        return cls(int(c["round"]), int(c["seed"]), int(c["local_epochs"]), int(c["batch"]),
                   None if int(c["lr_shift"]) < 0 else int(c["lr_shift"]),
                   int(c["period_samples"]) or None, bool(c["kill"]))


class BoardClient(NumPyClient):
    def __init__(self, handle: BoardHandle, x: np.ndarray, y: np.ndarray) -> None:
        self.handle, self.x, self.y = handle, x, y
        self.like = [handle.dm.model.tensors[n] for n in handle.dm.model.trainable]

    def get_parameters(self, config: dict) -> list[np.ndarray]:
        link = self._link()
        link.hello(self.handle.dm.hash)
        return blob_to_arrays(link.weights_read(), self.like)

    def fit(self, parameters: list[np.ndarray], config: dict):
        plan = RoundPlan.from_config(config)
        h, dm = self.handle, self.handle.dm
        link = self._link()
        c = link.counters
        wire0, retx0, t0 = c.wire_bytes, c.retransmits, time.monotonic()
        seed = round_seed(plan.seed, plan.round_no, h.index)
        check_hello(link.hello(dm.hash), dm, link.url)
        link.reset(seed)
        hp = link.hparams()
        hp = replace(hp, seed=seed,
                     lr_shift=hp.lr_shift if plan.lr_shift is None else plan.lr_shift,
                     period_samples=plan.period_samples or hp.period_samples)
        link.set_hparams(hp)
        blob = arrays_to_blob(parameters, self.like)
        link.weights_write(blob)
        confirm_digest(link, blob, 0, "it did not take the global weights")
        sched = Schedule(len(self.y), plan.local_epochs, seed, plan.batch, hp.period_samples,
                         link.samples_per_frame(plan.batch))
        order = sched.order()
        frames = sched.frames()
        for k, (a, b) in enumerate(frames):
            if plan.kill and k == len(frames) // 2:
                h.kill()
            idx = order[a:b]
            done = link.train(self.x[idx], self.y[idx], plan.batch)
            if done != b:
                raise LinkError(f"{h.name} counted {done} samples, the host sent {b}: a TRAIN "
                                f"frame was lost or applied twice")
        st = link.stats()
        out = link.weights_read()
        confirm_digest(link, out, sched.total, "its weights are not trusted")
        metrics = {"board": h.index, "loss": float(st.loss), "decisions": int(st.decisions),
                   "wire_bytes": int(c.wire_bytes - wire0),
                   "retransmits": int(c.retransmits - retx0), "seconds": time.monotonic() - t0,
                   "bits": json.dumps([int(b) for b in st.bits])}
        return blob_to_arrays(out, self.like), int(sched.total), metrics

    def evaluate(self, parameters: list[np.ndarray], config: dict):
        raise NotImplementedError("the fleet evaluates the global model on the server")

    def _link(self):
        if self.handle.link is None:
            raise LinkError(f"{self.handle.name} ({self.handle.where}) is not running")
        return self.handle.link

