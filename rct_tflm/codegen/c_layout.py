"""Sizes of the runtime's C structs, as the compilers lay them out, and the RAM of a generated
model's static state outside the arena.

These are mirrors of `firmware/include/rct.h` and the generated `rct_model.h`; the memory report
and the partition plan charge them. tests/test_codegen_c_layout.py compiles a probe with the
host gcc and arm-none-eabi-gcc and fails on any difference, so a struct that grows cannot leave
the budget behind.
"""
from __future__ import annotations

# bytes: Cortex-M (ILP32, AAPCS) and the 64-bit host build (LP64)
SIZES: dict[str, dict[str, int]] = {
    "cortex-m": {"rct_tensor_t": 12, "rct_ctrl_slot_t": 16, "rct_controller_t": 44,
                 "rct_hparams_t": 24, "rct_prng_t": 8, "rct_conv_shape_t": 56,
                 "rct_decision_t": 36, "rct_ctrl_config_t": 24},
    "host": {"rct_tensor_t": 16, "rct_ctrl_slot_t": 16, "rct_controller_t": 48,
             "rct_hparams_t": 24, "rct_prng_t": 8, "rct_conv_shape_t": 56,
             "rct_decision_t": 36, "rct_ctrl_config_t": 24},
}
# rct_model.c's scalar state: s_samples, s_steps, s_decisions, s_loss_q16, s_wr_pending_off
# (4 bytes each) and s_wr_pending_lo (1 byte)
COUNTER_BYTES = 5 * 4 + 1


def state_bytes(n_trainable: int, abi: str = "cortex-m") -> int:
    """RAM of rct_model.c's static state outside the arena: per trainable tensor its
    rct_tensor_t, controller slot and last Gavg (int32); once the controller, hyper-parameters,
    PRNG and counters, padded to the 4-byte alignment the object's data ends on. (The bits caps
    and device-order tables are const: flash.)"""
    s = SIZES[abi]
    per_tensor = s["rct_tensor_t"] + s["rct_ctrl_slot_t"] + 4
    fixed = s["rct_controller_t"] + s["rct_hparams_t"] + s["rct_prng_t"] + COUNTER_BYTES
    return (fixed + per_tensor * n_trainable + 3) & ~3
