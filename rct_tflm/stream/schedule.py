"""What a stream sends, and when: the sample order, the TRAIN frames and the PRNG segments.

* Sample order: `rct_tflm.data.run_order` — epoch after epoch, `epoch_order(n, seed, epoch)`; the run is
  `epochs * n` samples, cut down to a whole number of micro-batches.
* Frames: as many samples as one TRAIN frame holds (a multiple of the micro-batch), but a frame
  never crosses a multiple of `period_samples`. The controller decides right after the step that
  reaches a period boundary, so a STATS poll after that frame sees the decision at its exact
  sample count, and a checkpoint taken there holds the state of that boundary.
* Segments: the bitwidth controller re-keys the PRNG at every period boundary (the numeric
  contract, docs/numerics.md): segment k — the samples after boundary k — draws with key
  `segment_seed(seed, k) = (seed + k * 0x9E3779B9) mod 2^32` from counter 0. The board's PRNG
  counter cannot be written, and need not be: weights + bitwidths at a boundary are the complete
  training state, and a run resumed there (RESET, SET_HPARAMS with seed = segment_seed(seed, k),
  the weights) continues exactly as one that never stopped.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import run_order
from ..errors import UserError
from ..fixedpoint.prng import REKEY_STRIDE


def segment_seed(seed: int, k: int) -> int:
    """The PRNG key after k period boundaries of a run seeded with `seed` (Rng.rekey k times)."""
    return (int(seed) + int(k) * REKEY_STRIDE) & 0xFFFFFFFF


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
            raise UserError(f"--batch-size {self.batch} must divide the decision period "
                            f"({self.period} samples) so decisions fall on frame boundaries; "
                            f"choose a divisor or set --period-samples")
        if self.per_frame < self.batch or self.per_frame % self.batch:
            raise ValueError(f"per_frame {self.per_frame} is not a multiple of batch {self.batch}")

    @property
    def total(self) -> int:
        n = self.epochs * self.n_train
        return n - n % self.batch  # == len(self.order())

    def order(self) -> np.ndarray:
        """Training-set index of every streamed sample, in stream order."""
        return run_order(self.n_train, self.epochs, self.seed, self.batch)

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
