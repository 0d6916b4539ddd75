"""Energy and memory model of one training run (formulas and assumptions: docs/energy.md).

Per-operation energies are Horowitz, "Computing's energy problem", ISSCC 2014 (45 nm). The
model counts, per training step of batch B, the multiply-accumulates of every GEMM a layer
runs (forward, backward-input, backward-weight) at the operand widths of the method, the bits
of parameter memory a device must hold, and the bits of parameters moved to and from SRAM.
RCT figures follow the run's actual bitwidth trajectory, weighted by the steps each state held.

What a layer contributes comes from its kind (rct_tflm.program.kinds: `macs`, `PER_CHANNEL`).
numpy only; never imports TensorFlow (a tfmot model, if given, is only duck-typed).
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from .artefact import Layer, ModelArtefact
from .errors import UserError
from .fixedpoint.qtensor import QTensor, container_bits
from .program import kinds

METHODS = ("fp32", "qat", "rct")

# --- Horowitz ISSCC 2014, 45 nm, pJ per operation ------------------------------------------
INT8_ADD_PJ = 0.03
INT32_ADD_PJ = 0.1
FP16_ADD_PJ = 0.4
FP32_ADD_PJ = 0.9
INT8_MULT_PJ = 0.2
INT32_MULT_PJ = 3.1
FP16_MULT_PJ = 1.1
FP32_MULT_PJ = 3.7
SRAM_READ_64BIT_PJ = 10.0  # 8 KB SRAM, one 64-bit read
SRAM_READ_PJ_PER_BIT = SRAM_READ_64BIT_PJ / 64.0  # 0.15625
SRAM_WRITE_PJ_PER_BIT = SRAM_READ_PJ_PER_BIT  # Horowitz gives no write figure: assume = read

ACC_BITS = 32  # integer methods accumulate into a 32-bit integer
FP32_BITS = 32
QAT_BITS = 8  # tfmot's default 8-bit scheme
QAT_PAPER_BITS_PER_PARAM = 40  # the paper: FP32 master copy + int8 copy


def int_mult_pj(bits_a: int, bits_b: int) -> float:
    """Integer multiply energy, proportional to bits_a*bits_b, anchored at 8x8 = 0.2 pJ.

    At 32x32 this gives 3.2 pJ against Horowitz's 3.1 pJ (+3.2%)."""
    return INT8_MULT_PJ * (bits_a * bits_b) / 64.0


def int_add_pj(bits: int) -> float:
    """Integer add energy, proportional to bits, anchored at 32 bits = 0.1 pJ (the accumulator).

    At 8 bits this gives 0.025 pJ against Horowitz's 0.03 pJ (-17%); only 32-bit adds occur."""
    return INT32_ADD_PJ * bits / 32.0


def int_mac_pj(bits_a: int, bits_b: int) -> float:
    """One integer MAC: bits_a x bits_b multiply + add into the 32-bit accumulator."""
    return int_mult_pj(bits_a, bits_b) + int_add_pj(ACC_BITS)


FP32_MAC_PJ = FP32_MULT_PJ + FP32_ADD_PJ  # 4.6 pJ


# --- MAC counts ----------------------------------------------------------------------------
def layer_macs(layer: Layer) -> int:
    """Multiply-accumulates of one sample's forward GEMM of `layer` (0 if it has no GEMM; each
    kind's `macs` gives its formula). The backward-input and backward-weight GEMMs of the same
    layer have the same count. Embedding lookups and pooling are not GEMMs: 0."""
    return kinds.macs(layer)


def _weight_tensor(layer: Layer) -> str | None:
    """The tensor multiplied in the layer's GEMM (the kernel, not the bias)."""
    for role in ("kernel", "depthwise_kernel", "weights"):
        if role in layer.params:
            return layer.params[role]
    rest = [t for r, t in layer.params.items() if r != "bias"]
    return rest[0] if rest else None


def _tensor_size(t: Any) -> int:
    return t.size if isinstance(t, QTensor) else int(np.size(t))


def param_tensors(artefact: ModelArtefact) -> dict[str, int]:
    """Every parameter tensor (kernels, biases, embeddings) of the graph -> element count."""
    out: dict[str, int] = {}
    for l in artefact.layers:
        for name in l.params.values():
            if name not in artefact.tensors:
                raise UserError(f"model artefact layer {l.name} names missing tensor {name}; "
                                "re-create it with `rct-tflm train`")
            out[name] = _tensor_size(artefact.tensors[name])
    return out


def _trainable(artefact: ModelArtefact, params: dict[str, int]) -> set[str]:
    """Tensors updated by training: the artefact's trainable set, or all parameters if unset."""
    tr = set(artefact.trainable) & set(params)
    return tr if tr else set(params)


# --- bitwidth trajectory -------------------------------------------------------------------
def bit_segments(artefact: ModelArtefact, bitwidth_history: list[dict], total_steps: int,
                 tensors: Iterable[str]) -> list[tuple[int, dict[str, int]]]:
    """[(steps held, {tensor: bits})] covering steps 0..total_steps-1 of the run.

    Each history entry is a change point; its bits hold until the next entry. Tensors missing
    from the history keep the artefact's bitwidth. An empty history means the artefact's bits
    held for the whole run."""
    tensors = list(tensors)
    base = {}
    for n in tensors:
        t = artefact.tensors[n]
        base[n] = t.bits if isinstance(t, QTensor) else FP32_BITS
    total_steps = max(int(total_steps), 1)
    if not bitwidth_history:
        return [(total_steps, dict(base))]
    entries = sorted(bitwidth_history, key=lambda e: int(e["step"]))
    segs: list[tuple[int, dict[str, int]]] = []
    cur = dict(base)
    # Bits in force at step 0: the artefact's, overridden by every entry at step <= 0.
    start = 0
    for i, e in enumerate(entries):
        step = min(max(int(e["step"]), 0), total_steps)
        if step > start:
            segs.append((step - start, dict(cur)))
            start = step
        for n, b in e.get("bits", {}).items():
            if n in cur:
                b = int(b)
                if not 1 <= b <= 32:
                    raise UserError(f"bitwidth history gives tensor {n} {b} bits at step "
                                    f"{e['step']}; bitwidths must lie in 1..32")
                cur[n] = b
    if total_steps > start:
        segs.append((total_steps - start, dict(cur)))
    return segs


# --- the model -----------------------------------------------------------------------------
def _gemm_pj_per_sample(method: str, macs: int, wbits: int, act_bits: int, err_bits: int,
                        need_input_grad: bool, trains: bool) -> dict[str, float]:
    """Energy of one sample's three GEMMs of one layer, by method."""
    if method == "fp32":
        fwd, bin_, bw = FP32_MAC_PJ, FP32_MAC_PJ, FP32_MAC_PJ
    elif method == "qat":  # integer 8x8 forward (fake-quantised), float backward
        fwd, bin_, bw = int_mac_pj(QAT_BITS, QAT_BITS), FP32_MAC_PJ, FP32_MAC_PJ
    else:  # rct
        fwd = int_mac_pj(wbits, act_bits)
        bin_ = int_mac_pj(wbits, err_bits)
        bw = int_mac_pj(err_bits, act_bits)
    return {"forward": macs * fwd,
            "backward_input": macs * bin_ if need_input_grad else 0.0,
            "backward_weight": macs * bw if trains else 0.0}


def _movement_bits(method: str, role_bits: int, is_kernel: bool, needs_bin: bool,
                   trains: bool) -> tuple[int, int]:
    """(bits read, bits written) per step for one parameter element (docs/energy.md)."""
    if method == "fp32":
        r = FP32_BITS + (FP32_BITS if is_kernel and needs_bin else 0)
        w = 0
        if trains:
            r, w = r + FP32_BITS, w + FP32_BITS
        return r, w
    if method == "qat":
        # fake-quantise: read fp32 master, write int8 copy; GEMMs read the int8 copy
        r = FP32_BITS + QAT_BITS + (QAT_BITS if is_kernel and needs_bin else 0)
        w = QAT_BITS
        if trains:
            r, w = r + FP32_BITS, w + FP32_BITS
        return r, w
    r = role_bits + (role_bits if is_kernel and needs_bin else 0)
    w = 0
    if trains:
        r, w = r + role_bits, w + role_bits
    return r, w


def tfmot_state_bits(tfmot_model: Any) -> int:
    """Bits of every variable a tfmot (or any Keras) model holds: sum(size * dtype width)."""
    total = 0
    for v in tfmot_model.weights:
        size = int(np.prod([int(d) for d in v.shape])) if len(v.shape) else 1
        dt = getattr(v, "dtype", None)
        width = getattr(dt, "size", None)
        if width is None:
            width = np.dtype(str(getattr(dt, "name", dt))).itemsize
        total += size * int(width) * 8
    return total


def tfmot_state_estimate_bits(artefact: ModelArtefact, params: dict[str, int]) -> int:
    """What tfmot's default 8-bit scheme holds, without the model: fp32 master weights plus,
    per quantised (GEMM) layer, float min/max of the kernel (per output channel for a
    PER_CHANNEL kind, conv2d and depthwise_conv2d; per tensor otherwise) and of the output
    activation, and an int32 optimizer-step counter; plus the input quantiser (min, max,
    counter). No int8 copy is stored: tfmot's fake-quantised weights are a transient float
    tensor."""
    bits = FP32_BITS * sum(params.values())
    floats, ints = 2, 1  # input quantize layer
    for l in artefact.layers:
        if not kinds.gemm(l.kind):
            continue
        ch = int(l.output_shape[-1]) if kinds.per_channel(l.kind) else 1
        floats += 2 * ch + 2
        ints += 1
    return bits + 32 * floats + 32 * ints


def run_costs(artefact: ModelArtefact, method: str, bitwidth_history: list[dict],
              total_steps: int, batch_size: int, act_bits: int = 8, err_bits: int = 8,
              tfmot_model: Any = None) -> dict:
    """GEMM energy, parameter memory and parameter movement of one training run.

    `bitwidth_history`: change points {"step", "sample", "bits": {tensor: bits}}; the first at
    step 0 is the initial state and bits hold until the next entry (used by "rct"; may be empty
    for "fp32"/"qat"). Energies are pJ per training step of `batch_size` samples, averaged over
    the `total_steps` steps of the run. Returns a JSON-able dict (keys in docs/energy.md)."""
    if method not in METHODS:
        raise UserError(f"unknown method '{method}' for the energy model; use one of "
                        f"{', '.join(METHODS)}")
    if int(batch_size) < 1 or int(total_steps) < 0:
        raise UserError(f"energy model needs batch_size >= 1 and total_steps >= 0, got "
                        f"{batch_size} and {total_steps}")
    for name, b in (("act_bits", act_bits), ("err_bits", err_bits)):
        if not 1 <= int(b) <= 32:
            raise UserError(f"{name}={b} is outside 1..32")
    params = param_tensors(artefact)
    trainable = _trainable(artefact, params)
    n_params = sum(params.values())
    steps = max(int(total_steps), 1)

    if method == "rct":
        segs = bit_segments(artefact, bitwidth_history, steps, params)
    else:
        width = FP32_BITS if method == "fp32" else QAT_BITS
        segs = [(steps, {n: width for n in params})]

    # Which GEMM layers need their input gradient: any trainable parameter upstream.
    breakdown: dict[str, dict[str, float]] = {}
    macs_by_layer: dict[str, int] = {}
    needs_bin: dict[str, bool] = {}
    upstream_trains = False
    for l in artefact.layers:
        needs_bin[l.name] = upstream_trains
        if any(t in trainable for t in l.params.values()):
            upstream_trains = True

    gemm_total = 0.0
    move_r = move_w = move_r_packed = move_w_packed = 0.0
    mem_c = []  # (steps, container bits) per segment
    mem_p = []
    weighted_bits = 0.0
    for dur, bits in segs:
        frac = dur / steps
        for l in artefact.layers:
            macs = layer_macs(l)
            if macs == 0:  # no GEMM
                continue
            wname = _weight_tensor(l)
            wbits = bits.get(wname, 8) if wname else 8
            trains = any(t in trainable for t in l.params.values())
            e = _gemm_pj_per_sample(method, macs, wbits, act_bits, err_bits,
                                    needs_bin[l.name], trains)
            macs_by_layer[l.name] = macs
            b = breakdown.setdefault(l.name, {"forward": 0.0, "backward_input": 0.0,
                                              "backward_weight": 0.0})
            for k, v in e.items():
                b[k] += frac * v * batch_size
                gemm_total += frac * v * batch_size
        seg_c = seg_p = 0
        for l in artefact.layers:
            wname = _weight_tensor(l)
            for role, t in l.params.items():
                n = params[t]
                is_k = t == wname and kinds.gemm(l.kind)
                tr = t in trainable
                if method == "rct":
                    cont, packed = container_bits(bits[t]), bits[t]
                else:
                    cont = packed = FP32_BITS  # storage width of the master weights
                r, w = _movement_bits(method, cont, is_k, needs_bin[l.name], tr)
                move_r += frac * n * r
                move_w += frac * n * w
                rp, wp = _movement_bits(method, packed, is_k, needs_bin[l.name], tr)
                move_r_packed += frac * n * rp
                move_w_packed += frac * n * wp
        for t, n in params.items():
            if method == "rct":
                seg_c += container_bits(bits[t]) * n
                seg_p += bits[t] * n
                weighted_bits += frac * bits[t] * n
            elif method == "fp32":
                seg_c = seg_p = FP32_BITS * n_params
            else:
                seg_c = seg_p = QAT_PAPER_BITS_PER_PARAM * n_params
        mem_c.append(seg_c)
        mem_p.append(seg_p)

    if method == "rct":
        mean_bits = weighted_bits / n_params if n_params else 0.0
    else:
        mean_bits = float(FP32_BITS if method == "fp32" else QAT_BITS)
    if method == "qat":
        tfmot_bits = (tfmot_state_bits(tfmot_model) if tfmot_model is not None
                      else tfmot_state_estimate_bits(artefact, params))
        tfmot_source = "counted from the tfmot model" if tfmot_model is not None else \
            "estimate: fp32 weights + default 8-bit quantiser state (docs/energy.md)"
    else:
        tfmot_bits, tfmot_source = None, None
    movement = move_r * SRAM_READ_PJ_PER_BIT + move_w * SRAM_WRITE_PJ_PER_BIT
    movement_packed = (move_r_packed * SRAM_READ_PJ_PER_BIT
                       + move_w_packed * SRAM_WRITE_PJ_PER_BIT)
    return {
        "method": method,
        "total_steps": int(total_steps),
        "batch_size": int(batch_size),
        "act_bits": int(act_bits),
        "err_bits": int(err_bits),
        "gemm_energy_pj_per_step": gemm_total,
        "gemm_energy_breakdown": breakdown,
        "gemm_macs_per_sample": macs_by_layer,
        "param_count": int(n_params),
        "param_memory_bits_peak": int(max(mem_c)),
        "param_memory_bits_final": int(mem_c[-1]),
        "param_memory_bits_peak_packed": int(max(mem_p)),
        "param_memory_bits_final_packed": int(mem_p[-1]),
        "param_memory_bits_tfmot_actual": tfmot_bits,
        "param_memory_tfmot_source": tfmot_source,
        "param_movement_bits_per_step": {"read": move_r, "write": move_w},
        "param_movement_pj_per_step": movement,
        "param_movement_pj_per_step_packed": movement_packed,
        "mean_bits": mean_bits,
        "constants": constants(),
    }


def constants() -> dict:
    """Every constant the model uses, recorded with each result."""
    return {
        "source": "Horowitz, Computing's energy problem, ISSCC 2014, 45 nm",
        "int8_add_pj": INT8_ADD_PJ, "int32_add_pj": INT32_ADD_PJ,
        "fp16_add_pj": FP16_ADD_PJ, "fp32_add_pj": FP32_ADD_PJ,
        "int8_mult_pj": INT8_MULT_PJ, "int32_mult_pj": INT32_MULT_PJ,
        "fp16_mult_pj": FP16_MULT_PJ, "fp32_mult_pj": FP32_MULT_PJ,
        "int_mult_rule": "0.2 pJ * (bits_a * bits_b) / 64 (32x32 -> 3.2 pJ, Horowitz 3.1: +3.2%)",
        "int_add_rule": "0.1 pJ * bits / 32 (8 bits -> 0.025 pJ, Horowitz 0.03: -17%)",
        "accumulator_bits": ACC_BITS,
        "fp32_mac_pj": FP32_MAC_PJ,
        "sram_read_pj_per_bit": SRAM_READ_PJ_PER_BIT,
        "sram_write_pj_per_bit": SRAM_WRITE_PJ_PER_BIT,
        "qat_paper_bits_per_param": QAT_PAPER_BITS_PER_PARAM,
    }


def saving(new: float, base: float) -> float:
    """Fractional saving of `new` against `base` (0.86 = 86% less); nan if base is 0."""
    return 1.0 - new / base if base else math.nan
