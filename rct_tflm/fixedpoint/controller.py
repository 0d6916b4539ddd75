"""The RCT bitwidth controller: one small class, no TensorFlow, integer decisions.

Per trainable tensor it sums Gavg (Q16.16, one observation per training step) over a decision
period counted in *samples*. The statistic compared with the thresholds is either the per-step
mean `sum // steps` (`gavg_ref_samples = 0`: the paper's rule, the trainer's) or Gavg
accumulated over `gavg_ref_samples` samples, `floor(sum * ref / samples_in_period)` (the integer
engine's default, ref = 32: under stochastic rounding a 32-sample step's displacement is, in
expectation, the sum of the displacements of its batch-1 steps, so batch-1 training is judged
on the scale the thresholds were set for; docs/numerics.md "The bitwidth controller"). At the
period's end it decides, in this order:

1. saturated fraction > guard and bits < bits_max  -> add a high bit (range doubles)
2. Gavg < T_min and bits < bits_max                -> add a low bit (exact shift)
3. Gavg > T_max and bits > bits_min                -> drop a low bit (stochastic rounding)

Adding a low bit doubles Gavg and dropping one halves it; with T_max > 2*T_min neither change
can push Gavg across the other threshold, so the controller cannot flip back and forth on its
own decision. Tensors are visited in registration order, which fixes the PRNG draw order of
drop_low_bit. All comparisons are in integers so the C engine reproduces them exactly.

The controller also owns the PRNG's segments: after the decisions of a boundary (and their
drop_low_bit draws) it re-keys the PRNG once per period boundary the step crossed
(`Rng.rekey`: key += 0x9E3779B9, counter = 0) — every boundary, whether or not a bitwidth
changed, and also when the controller is disabled (the fixed-bitwidth baseline). So the PRNG
state at boundary k is (seed + k * 0x9E3779B9, 0) on every implementation, and weights +
bitwidths at a boundary are the complete training state (docs/numerics.md, "The PRNG").
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .prng import Rng
from .qtensor import QTensor
from .grid_update import GAVG_FRAC_BITS

MIN_PERIOD_SAMPLES = 512
PPM = 1_000_000
MAX_GAVG_REF_SAMPLES = 65535
DEVICE_GAVG_REF_SAMPLES = 32  # the integer engine's default: Gavg per 32 samples
# ... and its T_max: Gavg per 32 samples runs higher than the per-step mean, and a low bit
# dropped stochastically costs more at batch 1 (docs/numerics.md, "The bitwidth controller")
DEVICE_T_MAX = 2.0
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class ControllerConfig:
    bits_init: int = 8
    bits_min: int = 4
    bits_max: int = 16
    t_min: float = 0.1
    t_max: float = 0.5
    sat_guard: float = 0.005  # fraction of a tensor at the clip that widens its range
    period_samples: int = 1600  # 50 steps at batch 32
    enabled: bool = True  # False: bitwidths stay at bits_init (the fixed-bitwidth baseline)
    # 0: Gavg = per-step mean over the period (the paper's rule; the trainer). N > 0: Gavg
    # accumulated over N samples, floor(sum * N / samples in the period) (integer engine: 32)
    gavg_ref_samples: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.bits_min <= self.bits_init <= self.bits_max <= 16:
            raise ValueError(
                f"bitwidths must satisfy 2 <= min <= init <= max <= 16, got "
                f"min={self.bits_min} init={self.bits_init} max={self.bits_max}")
        if not (self.t_min > 0 and self.t_max > 2 * self.t_min):
            raise ValueError(f"thresholds need 0 < T_min and T_max > 2*T_min (no oscillation), "
                             f"got T_min={self.t_min} T_max={self.t_max}")
        if self.period_samples < MIN_PERIOD_SAMPLES:
            raise ValueError(f"decision period must be >= {MIN_PERIOD_SAMPLES} samples "
                             f"(shorter periods make the controller flap), got {self.period_samples}")
        if not 0 <= self.gavg_ref_samples <= MAX_GAVG_REF_SAMPLES:
            raise ValueError(f"Gavg reference must be 0 (per-step mean) or 1..{MAX_GAVG_REF_SAMPLES} "
                             f"samples, got {self.gavg_ref_samples}")
        if not 0 <= self.sat_guard < 1:
            raise ValueError(f"saturation guard must be a fraction in [0, 1), got {self.sat_guard}")

    @property
    def t_min_q16(self) -> int:
        return int(round(self.t_min * (1 << GAVG_FRAC_BITS)))

    @property
    def t_max_q16(self) -> int:
        return int(round(self.t_max * (1 << GAVG_FRAC_BITS)))

    @property
    def sat_guard_ppm(self) -> int:
        return int(round(self.sat_guard * PPM))


@dataclass
class Decision:
    sample: int
    tensor: str
    action: str  # "add_low", "drop_low", "add_high"
    bits_before: int
    bits_after: int
    exp_before: int
    exp_after: int
    gavg: float
    saturated: float


@dataclass
class _Accum:
    bits_max: int
    gavg_sum_q16: int = 0
    steps: int = 0


@dataclass
class BitwidthController:
    config: ControllerConfig
    tensor_names: list[str]
    bits_max: dict[str, int] = field(default_factory=dict)  # per-tensor caps (e.g. by fan-in)
    samples: int = 0
    boundaries: int = 0  # period boundaries crossed = PRNG segments started since the start
    log: list[Decision] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._acc = {n: _Accum(min(self.bits_max.get(n, self.config.bits_max), self.config.bits_max))
                     for n in self.tensor_names}
        self._next_decision = self.config.period_samples
        self._period_start = 0  # sample count at the last decision (the period's first sample)

    def observe(self, name: str, gavg_q16: int) -> None:
        """Record one step's Gavg (Q16.16) of tensor `name`."""
        a = self._acc[name]
        a.gavg_sum_q16 += int(gavg_q16)
        a.steps += 1

    def advance(self, n_samples: int, tensors: dict[str, QTensor], rng: Rng) -> list[Decision]:
        """Count `n_samples` trained samples. When the count reaches or passes one or more
        period boundaries (multiples of period_samples since the controller started): decide
        once, on the statistics gathered since the last decision, apply in place, then re-key
        `rng` once per boundary crossed."""
        self.samples += int(n_samples)
        if self.samples < self._next_decision:
            return []
        crossed = 1 + (self.samples - self._next_decision) // self.config.period_samples
        self._next_decision += self.config.period_samples * crossed
        span = self.samples - self._period_start  # samples the statistics were gathered over
        self._period_start = self.samples
        made = []
        for name in self.tensor_names:
            d = self._decide(name, tensors[name], rng, span)
            if d is not None:
                made.append(d)
            self._acc[name].gavg_sum_q16 = 0
            self._acc[name].steps = 0
        self.log.extend(made)
        rng.rekey(crossed)
        self.boundaries += crossed
        return made

    def gavg_statistic(self, gavg_sum_q16: int, steps: int, span: int) -> int:
        """The Q16.16 value compared with the thresholds: sum // steps, or with a reference of
        N samples floor(sum * N / span), saturated to int64 (as the C twin computes it)."""
        ref = self.config.gavg_ref_samples
        if ref == 0:
            return gavg_sum_q16 // steps
        return min(gavg_sum_q16 * ref // span, INT64_MAX)

    def _decide(self, name: str, t: QTensor, rng: Rng, span: int) -> Decision | None:
        a = self._acc[name]
        if not self.config.enabled or a.steps == 0:
            return None
        cfg = self.config
        gavg = self.gavg_statistic(a.gavg_sum_q16, a.steps, span)
        sat = t.saturated_count()
        before = (t.bits, t.exp)
        if sat * PPM > cfg.sat_guard_ppm * t.size and t.bits < a.bits_max:
            t.add_high_bit()
            action = "add_high"
        elif gavg < cfg.t_min_q16 and t.bits < a.bits_max:
            t.add_low_bit()
            action = "add_low"
        elif gavg > cfg.t_max_q16 and t.bits > cfg.bits_min:
            t.drop_low_bit(rng)
            action = "drop_low"
        else:
            return None
        return Decision(self.samples, name, action, before[0], t.bits, before[1], t.exp,
                        gavg / (1 << GAVG_FRAC_BITS), sat / max(t.size, 1))

    def log_dicts(self) -> list[dict]:
        return [asdict(d) for d in self.log]
