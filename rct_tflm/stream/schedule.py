"""What a stream sends, and when: the sample order, the TRAIN frames and the PRNG segments.

* Sample order: epoch after epoch, `rct_tflm.data.epoch_order(n, seed, epoch)`; the run is
  `epochs * n` samples, cut down to a whole number of micro-batches.
* Frames: as many samples as one TRAIN frame holds (a multiple of the micro-batch), but a frame
  never crosses a multiple of `period_samples`. The controller decides right after the step that
  reaches a period boundary, so a STATS poll after that frame sees the decision at its exact
  sample count.
* Segments: at every period boundary the stream re-keys the PRNG (SET_HPARAMS with the next
  segment's seed, which also restarts the controller's empty period accumulators). The board's
  PRNG counter cannot be written, so this is what makes a checkpoint — weights + bitwidths at a
  boundary — the complete training state: a run resumed from it ends bit-identical to one that
  never stopped. Segment k's key is `(seed + k * 0x9E3779B9) mod 2^32` (segment 0 uses `seed`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import epoch_order
from ..errors import UserError

SEGMENT_STRIDE = 0x9E3779B9  # 2^32 / golden ratio: consecutive keys far apart


def segment_seed(seed: int, k: int) -> int:
    return (int(seed) + int(k) * SEGMENT_STRIDE) & 0xFFFFFFFF


@dataclass(frozen=True)
class Schedule:
    n_train: int
    epochs: int
    seed: int
    batch: int
    period: int  # controller decision period (samples)
    per_frame: int  # samples per full TRAIN frame (a multiple of batch)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise UserError(f"--epochs must be >= 1, got {self.epochs}")
        if self.batch < 1 or self.period % self.batch:
            raise UserError(f"--batch {self.batch} must divide the decision period "
                            f"({self.period} samples) so decisions fall on frame boundaries; "
                            f"choose a divisor or set --period-samples")
        if self.per_frame < self.batch or self.per_frame % self.batch:
            raise ValueError(f"per_frame {self.per_frame} is not a multiple of batch {self.batch}")

    @property
    def total(self) -> int:
        n = self.epochs * self.n_train
        return n - n % self.batch

    def order(self) -> np.ndarray:
        """Training-set index of every streamed sample, in stream order."""
        return np.concatenate([epoch_order(self.n_train, self.seed, e)
                               for e in range(self.epochs)])[:self.total]

    def frames(self, start: int = 0) -> list[tuple[int, int]]:
        """[a, b) sample ranges from `start` to the end, none crossing a period boundary."""
        out, a = [], start
        while a < self.total:
            b = min(a + self.per_frame, (a // self.period + 1) * self.period, self.total)
            out.append((a, b))
            a = b
        return out

    def at_boundary(self, g: int) -> bool:
        return g > 0 and g % self.period == 0

    def checkpoint_stride(self, every: int) -> int:
        """`--checkpoint-every` rounded up to whole periods (0 = never)."""
        if every <= 0:
            return 0
        return -(-every // self.period) * self.period
