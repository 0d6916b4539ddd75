"""The bitwidth controller: decisions, hysteresis, saturation guard, determinism (no TF)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rct_tflm.fixedpoint import BitwidthController, ControllerConfig, QTensor, Rng

Q16 = 1 << 16


def _run(gavg: float, bits: int = 8, periods: int = 1, cfg: ControllerConfig | None = None,
         q: np.ndarray | None = None) -> tuple[QTensor, BitwidthController]:
    cfg = cfg or ControllerConfig(period_samples=512)
    t = QTensor(np.arange(-20, 20, dtype=np.int32) if q is None else q, -6, bits)
    c = BitwidthController(cfg, ["w"])
    rng = Rng(3)
    for _ in range(periods * 16):
        c.observe("w", int(gavg * Q16))
        c.advance(32, {"w": t}, rng)
    return t, c


def test_small_gavg_adds_low_bit_exactly() -> None:
    t, c = _run(0.01)
    assert t.bits == 9 and t.exp == -7
    assert [d.action for d in c.log] == ["add_low"]
    assert c.log[0].sample == 512


def test_large_gavg_drops_low_bit() -> None:
    t, c = _run(0.9)
    assert t.bits == 7 and t.exp == -5 and c.log[0].action == "drop_low"


def test_in_band_gavg_keeps_bits() -> None:
    t, c = _run(0.3, periods=5)
    assert t.bits == 8 and not c.log


def test_saturation_guard_adds_high_bit_first() -> None:
    q = np.full(40, 127, dtype=np.int32)  # everything at the clip
    t, c = _run(0.01, q=q)
    assert c.log[0].action == "add_high" and t.bits == 9 and t.exp == -6


def test_range_limits_respected() -> None:
    t, _ = _run(0.001, bits=8, periods=20)
    assert t.bits == 16
    t, _ = _run(100.0, bits=8, periods=20)
    assert t.bits == 4


def test_per_tensor_cap() -> None:
    cfg = ControllerConfig(period_samples=512)
    t = QTensor(np.arange(-5, 5, dtype=np.int32), -6, 8)
    c = BitwidthController(cfg, ["w"], bits_max={"w": 10})
    for _ in range(16 * 10):
        c.observe("w", 10)
        c.advance(32, {"w": t}, Rng(0))
    assert t.bits == 10


def test_fixed_mode_never_changes() -> None:
    t, c = _run(0.0001, periods=5, cfg=ControllerConfig(period_samples=512, enabled=False))
    assert t.bits == 8 and not c.log


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0.0, max_value=4.0))
def test_hysteresis_cannot_oscillate(g0: float) -> None:
    """Gavg scales by 2 per low bit: feed the scaled Gavg back; bits must move monotonically."""
    cfg = ControllerConfig(period_samples=512)
    t = QTensor(np.arange(-10, 10, dtype=np.int32), -6, 8)
    c = BitwidthController(cfg, ["w"])
    rng = Rng(1)
    for _ in range(12 * 16):
        g = g0 * 2.0 ** (t.bits - 8)  # a finer grid -> the same update is more LSBs
        c.observe("w", int(g * Q16))
        c.advance(32, {"w": t}, rng)
    actions = {d.action for d in c.log} - {"add_high"}
    assert len(actions) <= 1, f"controller flapped: {[d.action for d in c.log]}"


def test_period_counted_in_samples_not_steps() -> None:
    cfg = ControllerConfig(period_samples=1600)
    t = QTensor(np.arange(-10, 10, dtype=np.int32), -6, 8)
    c = BitwidthController(cfg, ["w"])
    decided_at = []
    for _ in range(3300):  # batch-1 streaming
        c.observe("w", 1)
        if c.advance(1, {"w": t}, Rng(0)):
            decided_at.append(c.samples)
    assert decided_at == [1600, 3200]


@pytest.mark.parametrize("enabled", [True, False])
def test_every_boundary_rekeys_the_prng_after_the_decisions_draws(enabled: bool) -> None:
    """Boundary k leaves the PRNG at (seed + k * 0x9E3779B9, 0) whether or not a bitwidth
    changed and whether or not the controller is enabled; the drop's draws use the old key."""
    cfg = ControllerConfig(period_samples=512, enabled=enabled)
    t = QTensor(np.arange(-20, 20, dtype=np.int32), -6, 9)
    ref = t.copy()
    c = BitwidthController(cfg, ["w"])
    rng = Rng(5)
    for k in range(1, 4):
        for _ in range(16):
            c.observe("w", int(0.9 * Q16) if k == 1 else int(0.3 * Q16))  # drop, then in band
            before = rng.state()
            c.advance(32, {"w": t}, rng)
            if c.samples % 512:
                assert rng.state() == before
        assert rng.state() == ((5 + k * 0x9E3779B9) % 2**32, 0) and c.boundaries == k
    if enabled:
        ref.drop_low_bit(Rng(5))  # the first boundary's drop: 40 draws of the first key
        assert [d.action for d in c.log] == ["drop_low"] and np.array_equal(t.q, ref.q)
    else:
        assert not c.log and np.array_equal(t.q, ref.q)


def test_a_step_crossing_boundaries_rekeys_once_per_boundary() -> None:
    """Steps that pass a boundary without landing on it decide once and re-key per boundary
    crossed; the next boundary stays at the next multiple of the period."""
    cfg = ControllerConfig(period_samples=512)
    t = QTensor(np.arange(-20, 20, dtype=np.int32), -6, 8)
    c = BitwidthController(cfg, ["w"])
    rng = Rng(9)
    c.observe("w", int(0.3 * Q16))
    c.advance(500, {"w": t}, rng)
    assert rng.state() == (9, 0) and c.boundaries == 0
    c.advance(24, {"w": t}, rng)  # 524: crosses 512
    assert rng.state() == ((9 + 0x9E3779B9) % 2**32, 0) and c.boundaries == 1
    rng.next_u32(3)
    c.advance(1100, {"w": t}, rng)  # 1624: crosses 1024 and 1536
    assert rng.state() == ((9 + 3 * 0x9E3779B9) % 2**32, 0) and c.boundaries == 3
    c.advance(423, {"w": t}, rng)  # 2047: no boundary
    assert c.boundaries == 3
    c.advance(1, {"w": t}, rng)  # 2048: lands on one
    assert rng.state() == ((9 + 4 * 0x9E3779B9) % 2**32, 0) and c.boundaries == 4


@pytest.mark.parametrize("kw", [dict(t_min=0.3, t_max=0.5), dict(period_samples=32),
                                dict(bits_min=9), dict(bits_max=17), dict(sat_guard=1.5)])
def test_bad_config_rejected(kw: dict) -> None:
    with pytest.raises(ValueError):
        ControllerConfig(**kw)
