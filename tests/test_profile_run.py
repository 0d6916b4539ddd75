"""`rct-tflm profile`: instruction counts per kernel call of the digits-MLP firmware in the
unicorn Cortex-M emulator. Asserts correctness only (weights == golden engine, counts add up,
the program's layers and MACs, the json schema, one-line errors), never speed."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_tools, run_cli
from rct_tflm.errors import UserError

TRAIN_CALLS = [  # the digits MLP 64-32-10, both layers trainable: the program's call order
    ("rct_dense_forward", "forward", "dense1", 2048),
    ("rct_dense_forward", "forward", "logits", 320),
    ("rct_softmax_ce", "softmax-ce", None, 0),
    ("rct_dense_backward_input", "backward-input", "logits", 320),
    ("rct_dense_backward_update", "weight-update", "logits", 320),
    ("rct_bias_backward_update", "bias", "logits", 0),
    ("rct_relu_backward", "activation", "dense1", 0),
    ("rct_dense_backward_update", "weight-update", "dense1", 2048),
    ("rct_bias_backward_update", "bias", "dense1", 0),
    *[("rct_controller_observe", "controller", t, 0) for t in
      ("dense1/kernel", "dense1/bias", "logits/kernel", "logits/bias")],
    ("rct_controller_advance", "controller", None, 0),
]
KERNEL_KEYS = {"phase", "index", "name", "kind", "layer", "instructions", "macs",
               "macs_per_instruction", "est_cycles"}


@pytest.fixture(scope="module")
def prof(tmp_path_factory, digits) -> tuple[Path, dict, str]:
    """One profile of the zoo's digits MLP: 2 profiled steps, then on to the period boundary."""
    require_tools("arm-none-eabi-gcc")
    from rct_tflm.emulator import zoo
    d = tmp_path_factory.mktemp("profile")
    zoo.build("mlp", digits).save(d / "mlp.rct")
    out = d / "prof"
    from rct_tflm.cli import main
    try:
        main(["profile", "--model", str(d / "mlp.rct"), "--board", "qemu-stm32f405", "--data",
              "digits", "--steps", "2", "--boundary", "--period-samples", "512", "--out", str(out)])
    except SystemExit as e:
        assert not e.code, e
    return out, json.loads((out / "profile.json").read_text()), str(d / "mlp.rct")


def test_profile_writes_its_outputs_and_the_schema(prof):
    out, rec, _ = prof
    for f in ("profile.json", "profile.txt", "profile.png", "firmware/firmware.elf"):
        assert (out / f).is_file(), f
    assert rec["format"] == "rct-tflm-profile" and rec["version"] == 1
    assert rec["board"] == "qemu-stm32f405" and rec["core"] == "cortex-m4"
    for key in ("train_step_instructions", "inference_instructions", "ram_bytes", "flash_bytes",
                "stack_bytes", "train_glue_instructions", "inference_glue_instructions",
                "train_step_est_cycles", "inference_est_cycles"):
        assert isinstance(rec[key], int) and rec[key] > 0, key
    assert all(set(k) == KERNEL_KEYS for k in rec["kernels"])
    assert (out / "profile.png").read_bytes()[:4] == b"\x89PNG"


def test_the_firmware_trained_exactly_like_the_golden_engine(prof):
    _, rec, _ = prof
    g = rec["golden_check"]
    assert g["weights_equal"] and g["logits_equal"] and g["steps"] == 512 == rec["steps_total"]


def test_kernel_calls_follow_the_program_with_its_layers_and_macs(prof):
    _, rec, _ = prof
    train = [(k["name"], k["kind"], k["layer"], k["macs"]) for k in rec["kernels"]
             if k["phase"] == "train"]
    assert train == TRAIN_CALLS
    infer = [(k["name"], k["layer"], k["macs"]) for k in rec["kernels"] if k["phase"] == "infer"]
    assert infer == [("rct_dense_forward", "dense1", 2048), ("rct_dense_forward", "logits", 320),
                     ("rct_argmax_i8", None, 0)]
    assert rec["train_step_macs"] == 5056 and rec["inference_macs"] == 2368
    for k in rec["kernels"]:
        assert k["macs_per_instruction"] == pytest.approx(k["macs"] / k["instructions"], abs=1e-4)


def test_per_kernel_counts_sum_to_the_total_minus_the_glue(prof):
    _, rec, _ = prof
    for phase, total, glue in (("train", "train_step_instructions", "train_glue_instructions"),
                               ("infer", "inference_instructions", "inference_glue_instructions")):
        ks = [k["instructions"] for k in rec["kernels"] if k["phase"] == phase]
        assert sum(ks) == rec[total] - rec[glue]
        assert 0 < rec[glue] < 0.05 * rec[total]  # the schedule around the kernels is small
        assert sum(rec["by_kind"][phase].values()) == sum(ks)
    assert rec["train_step_instructions"] == rec["train_step_instructions_per_step"][0]


def test_the_period_boundary_step_is_profiled(prof):
    _, rec, _ = prof
    b = rec["boundary"]
    assert b["step"] == 512 and b["period_samples"] == 512
    adv = [k for k in rec["kernels"] if k["kind"] == "period-boundary"]
    assert len(adv) == 1 and adv[0]["name"] == "rct_controller_advance"
    # a decision draws per element (drop_low_bit) or at least re-keys: far above a plain advance
    plain = next(k for k in rec["kernels"] if k["phase"] == "train"
                 and k["name"] == "rct_controller_advance")
    assert adv[0]["instructions"] == b["advance_instructions"] > plain["instructions"]


def test_static_sizes_match_the_build_and_the_stack_fits(prof):
    out, rec, _ = prof
    size = json.loads((out / "firmware" / "size.json").read_text())
    assert rec["flash_bytes"] == size["flash_used"]
    assert rec["ram_bytes"] == size["data"] + size["bss"]
    assert 0 < rec["stack_bytes"] < 4096  # the firmware reserves 4 KB


def test_a_firmware_that_disagrees_with_the_golden_engine_is_refused(prof, monkeypatch):
    out, _, model = prof
    from rct_tflm.artefact import ModelArtefact
    from rct_tflm.profile import run

    class Skewed(run.Engine):  # a golden engine that trains one extra step on the first sample
        def train_step(self, x, labels):
            if self.steps == 0:
                super().train_step(x, labels)
            return super().train_step(x, labels)

    monkeypatch.setattr(run, "Engine", Skewed)
    with pytest.raises(UserError, match="differ from the golden engine's"):
        run.profile_firmware(out / "firmware", ModelArtefact.load(model),
                             run.cortex_m_board("qemu-stm32f405"), steps=1)


def test_counting_includes_it_skipped_instructions_exactly(tmp_path):
    """A hand-written function: every instruction of a taken path counts, IT-skipped too."""
    require_tools("arm-none-eabi-gcc")
    src = tmp_path / "f.c"
    src.write_text(
        "__attribute__((naked)) int pick(int a) {\n"
        "  __asm volatile(\"cmp r0, #0\\n ite eq\\n moveq r0, #1\\n movne r0, #2\\n bx lr\\n\");\n}\n"
        "__attribute__((naked)) int loop(int n) {\n"
        "  __asm volatile(\"movs r1, #0\\n1: adds r1, #1\\n cmp r1, r0\\n bne 1b\\n"
        " mov r0, r1\\n bx lr\\n\");\n}\n")
    elf = tmp_path / "f.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O1", "-nostdlib",
                    "-Wl,-e,pick", "-Wl,-Ttext=0x8000", str(src), "-o", str(elf)], check=True)
    from rct_tflm.profile.costs import core_costs
    from rct_tflm.profile.elf import ElfImage
    from rct_tflm.profile.machine import Machine
    from rct_tflm.profile.trace import BlockCounter, count_call
    m = Machine(ElfImage(elf), "cortex-m4")
    bc = BlockCounter(m, core_costs("cortex-m4"))
    for a, want in ((0, 1), (5, 2)):
        r0, tr, _ = count_call(m, bc, "pick", (a,))
        assert r0 == want and tr.instructions == 5  # one of moveq/movne is skipped, still counted
    r0, tr, stack = count_call(m, bc, "loop", (10,))
    assert r0 == 10 and tr.instructions == 1 + 3 * 10 + 2 and stack == 0


@pytest.mark.parametrize("args, msg", [
    (["--model", "{d}/nosuch.rct"], "does not exist"),
    (["--model", "{d}/junk.rct"], ""),
    (["--model", "{d}/mlp.rct", "--board", "host"], "board 'host' has no Cortex-M core"),
    (["--model", "{d}/mlp.rct", "--board", "nosuch-board"], "unknown board 'nosuch-board'"),
    (["--model", "{d}/mlp.rct", "--steps", "0"], "--steps must be >= 1"),
])
def test_bad_input_is_one_error_line_and_writes_nothing(capsys, tmp_path, digits, args, msg):
    from rct_tflm.emulator import zoo
    zoo.build("mlp", digits).save(tmp_path / "mlp.rct")
    (tmp_path / "junk.rct").write_bytes(b"not a model")
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "profile", *[a.format(d=tmp_path) for a in args],
                           "--out", str(out))
    assert code == 2 and err.startswith("error: ") and msg in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_fast_kernel_set_on_a_core_without_dsp_is_refused():
    from rct_tflm.boards import BOARDS, Board
    m0 = Board(**{**BOARDS["qemu-stm32f405"].__dict__, "name": "m0-test", "core": "cortex-m0"})
    assert m0.kernel_set("auto") == "portable" and BOARDS["qemu-stm32f405"].kernel_set() == "fast"
    with pytest.raises(UserError, match="no DSP extension"):
        m0.kernel_set("fast")
    with pytest.raises(UserError, match="unknown kernel set"):
        m0.kernel_set("turbo")


def test_the_profiler_imports_no_tensorflow():
    code = ("import sys, rct_tflm.cli.profile, rct_tflm.profile.run, rct_tflm.profile.report; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
