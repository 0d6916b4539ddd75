"""rct_controller (C) == BitwidthController (golden) over sequences of observed Gavg values and
period boundaries: the same decisions (sample, tensor, action, bits and exponent before/after,
Gavg, saturated fraction), the same tensors afterwards, and after every advance the same sample
count and PRNG state — re-keyed once per boundary crossed (key + k * 0x9E3779B9, counter 0)."""
import numpy as np
from hypothesis import strategies as st

from kernel_harness.cases import ints
from kernel_harness.targets import ck, compare, run_cases  # noqa: F401  (ck is a fixture)
from rct_tflm.fixedpoint import BitwidthController, ControllerConfig, QTensor, Rng
from rct_tflm.fixedpoint.prng import REKEY_STRIDE

ACTIONS = {"add_low": 1, "drop_low": 2, "add_high": 3}
INT32_MAX = 2**31 - 1


@st.composite
def controller_case(draw):
    t_min = draw(st.integers(1, 1 << 16))
    cfg = dict(bits_min=draw(st.integers(2, 8)), bits_max=draw(st.integers(8, 16)),
               t_min_q16=t_min, t_max_q16=draw(st.integers(2 * t_min + 1, 6 * t_min + 2)),
               ppm=draw(st.sampled_from([0, 1, 5000, 100_000, 999_999])),
               period=draw(st.integers(512, 2048)),
               enabled=draw(st.sampled_from([True, True, True, False])),
               ref=draw(st.sampled_from([0, 0, 1, 32, 65535])))
    nt = draw(st.integers(1, 4))
    tensors = []
    for _ in range(nt):
        tensors.append(dict(size=draw(st.integers(1, 24)), exp=draw(st.integers(-12, 2)),
                            bits=draw(st.integers(cfg["bits_min"], cfg["bits_max"])),
                            cap=draw(st.integers(cfg["bits_min"], 16)),
                            mode=draw(st.integers(0, 2))))
    gavgs = st.one_of(st.sampled_from([0, t_min - 1, t_min, cfg["t_max_q16"], cfg["t_max_q16"] + 1,
                                       INT32_MAX]), st.integers(0, 8 * cfg["t_max_q16"]))
    events = []
    for _ in range(draw(st.integers(1, 10))):  # periods
        for _ in range(draw(st.integers(0, 3))):  # steps in it
            for k in range(nt):
                if draw(st.integers(0, 5)):  # a tensor may miss a step
                    events.append((0, k, draw(gavgs)))
        events.append((1, draw(st.sampled_from([1, 32, cfg["period"], 3 * cfg["period"]])), 0))
    return dict(seed=draw(st.integers(0, 2**32 - 1)), key=draw(st.integers(0, 2**32 - 1)),
                counter=draw(st.integers(0, 2**32 - 1)), cfg=cfg, tensors=tensors, events=events)


def _edge(bits, cap, mode, gavg, enabled=True, ref=0):
    cfg = dict(bits_min=4, bits_max=16, t_min_q16=6554, t_max_q16=32768, ppm=5000, period=512,
               enabled=enabled, ref=ref)
    tensors = [dict(size=20, exp=-7, bits=bits, cap=cap, mode=mode),
               dict(size=3, exp=0, bits=8, cap=16, mode=0)]
    events = [(0, 0, gavg), (0, 1, 40000), (1, 512, 0), (0, 0, gavg), (0, 0, gavg), (1, 600, 0),
              (0, 1, 0), (1, 2000, 0)]
    return dict(seed=3, key=11, counter=2**32 - 5, cfg=cfg, tensors=tensors, events=events)


EDGES = [_edge(8, 16, 1, 0),            # saturated -> add_high, int8 -> int16 repack at 9 bits
         _edge(8, 8, 1, 0),             # saturated but at its cap: nothing
         _edge(8, 16, 2, 6553),         # just below T_min -> add_low
         _edge(8, 16, 2, 6554),         # at T_min: nothing
         _edge(9, 16, 2, 32769),        # just above T_max -> drop_low, int16 -> int8 repack
         _edge(4, 16, 2, 2**31 - 1),    # at bits_min: nothing
         _edge(9, 16, 2, 99999, enabled=False),
         # Gavg per 32 samples: 6553 * 32 // 512 = 409 -> add_low; 32769 over 512 samples of one
         # step is 2048 < T_min -> add_low (per-step mean would drop); the largest reference
         _edge(8, 16, 2, 6553, ref=32), _edge(9, 16, 2, 32769, ref=32),
         _edge(9, 16, 2, 2**31 - 1, ref=65535), _edge(9, 16, 2, 16384 * 512, ref=32)]


def test_controller(ck):
    @run_cases(ck, controller_case(), 60, examples=EDGES)
    def _(c):
        cfgd = c["cfg"]
        cfg = ControllerConfig(bits_init=cfgd["bits_min"], bits_min=cfgd["bits_min"],
                               bits_max=cfgd["bits_max"], t_min=cfgd["t_min_q16"] / 65536,
                               t_max=cfgd["t_max_q16"] / 65536, sat_guard=cfgd["ppm"] / 1e6,
                               period_samples=cfgd["period"], enabled=cfgd["enabled"],
                               gavg_ref_samples=cfgd["ref"])
        assert (cfg.t_min_q16, cfg.t_max_q16, cfg.sat_guard_ppm) == (
            cfgd["t_min_q16"], cfgd["t_max_q16"], cfgd["ppm"])
        r = np.random.default_rng(c["seed"])
        golden, twin, caps = [], [], []
        for t in c["tensors"]:
            q = ints(r, (t["size"],), t["bits"], t["mode"]).astype(np.int32)
            golden.append(QTensor(q.copy(), t["exp"], t["bits"]))
            twin.append(QTensor(q.copy(), t["exp"], t["bits"]))
            caps.append(t["cap"])
        names = [f"t{k}" for k in range(len(golden))]
        ctl = BitwidthController(cfg, names, bits_max=dict(zip(names, caps)))
        rg, rc = Rng(c["key"], c["counter"]), Rng(c["key"], c["counter"])
        states = []  # after every advance: samples, PRNG key, PRNG counter
        for kind, a, b in c["events"]:
            if kind == 0:
                ctl.observe(names[a], b)
            else:
                before = ctl.boundaries
                ctl.advance(a, dict(zip(names, golden)), rg)
                if ctl.boundaries > before:  # the contract, spelled out: re-keyed per boundary
                    assert rg.state() == ((c["key"] + ctl.boundaries * REKEY_STRIDE) % 2**32, 0)
                    assert ctl.boundaries == ctl.samples // cfg.period_samples
                states.append([ctl.samples, *rg.state()])
        dec_c, states_c, samples_c = ck.controller(cfg, twin, caps, c["events"], rc)

        cmp = compare(ck, "controller")
        want = [[d.sample, names.index(d.tensor), ACTIONS[d.action], d.bits_before, d.bits_after,
                 d.exp_before, d.exp_after, min(int(d.gavg * 65536), INT32_MAX)]
                for d in ctl.log]
        cmp.eq(dec_c[:, :8].reshape(-1, 8), np.array(want, np.int64).reshape(-1, 8), "decisions")
        assert [d.saturated for d in ctl.log] == [
            int(s) / golden[int(k)].size for s, k in zip(dec_c[:, 8], dec_c[:, 1])]
        for tc, tg in zip(twin, golden):
            cmp.eq(tc.q, tg.q, "tensor q")
            cmp.eq([tc.exp, tc.bits], [tg.exp, tg.bits], "tensor exp, bits")
        cmp.eq(states_c, np.array(states, np.int64).reshape(-1, 3),
               "samples, PRNG key and counter after each advance")
        cmp.eq([rc.key, rc.counter, samples_c], [rg.key, rg.counter, ctl.samples],
               "PRNG key, counter, samples")
