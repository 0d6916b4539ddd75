"""The board database: every board rct_tflm can build for, flash, emulate or stream to.

Data plus the one RAM/flash budget every stage uses (`Board.model_ram_budget`: partition,
generate and build agree on what is left for the model). C sources per board live in
`firmware/boards/<name>/` (board.c: clock, pins, UART; linker.ld: memory) plus the shared
`firmware/boards/common/` (start-up and vector table, FPU enable, fault handler, UART drivers).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UserError
from ..link.messages import LABEL_BYTES, max_payload_for, stage_bytes_for

DEFAULT_BOARD = "qemu-stm32f405"
# Kernel sets of a build: "fast" compiles the Cortex-M DSP paths (RCT_FAST_KERNELS: SMLAD and
# saturating arithmetic), "portable" the reference C only; "auto" picks fast where the core has
# the DSP extension. Both give the same integers (tests/test_kernels_*.py on QEMU).
KERNEL_SETS = ("auto", "fast", "portable")
DSP_CORES = ("cortex-m4", "cortex-m7", "cortex-m33")

# RAM of the firmware besides the model's arena and state (tests/test_boards_ram.py checks these
# against the linked images): the stack reserved above .bss by firmware/boards/common/sections.ld,
# and the app's and board port's own statics (UART state, the last reply for duplicate
# suppression, counters: 84 B on qemu-stm32f405), with room for the other ports.
STACK_BYTES = 4096
APP_RAM_BYTES = 256


def link_ram_bytes(input_size: int, target_bytes: int = LABEL_BYTES) -> int:
    """The link buffers the firmware allocates for a model with `input_size` int8 inputs
    (firmware/link/rct_link.h): the receiver's COBS wire buffer with its counters, the sender's
    raw and wire frames, and the app's response payload, all sized by RCT_LINK_MAX_PAYLOAD
    (one sample and its `target_bytes` target record)."""
    payload = max_payload_for(input_size, target_bytes)
    raw = payload + 4  # + type, seq, CRC-16
    wire = raw + raw // 254 + 2  # + COBS overhead and the 0x00 delimiter
    rx_counters = 16  # rct_link_rx_t: len, overflow, crc_errors, overflows (padded)
    return (-(-wire // 4) * 4 + rx_counters) + raw + wire + payload


def firmware_ram(input_size: int, max_batch: int = 1,
                 target_bytes: int = LABEL_BYTES) -> dict[str, int]:
    """RAM the firmware holds besides the model, by what holds it: the reserved stack, the link
    buffers, the staging buffer for large samples (firmware/app/rct_app_stage.c; none when
    samples travel whole in a frame) and the app's statics."""
    return {"stack": STACK_BYTES, "link": link_ram_bytes(input_size, target_bytes),
            "stage": stage_bytes_for(input_size, max_batch, target_bytes), "app": APP_RAM_BYTES}


def firmware_ram_bytes(input_size: int, max_batch: int = 1) -> int:
    """RAM the firmware needs besides the model: stack, link and staging buffers, app statics."""
    return sum(firmware_ram(input_size, max_batch).values())


@dataclass(frozen=True)
class Board:
    name: str
    mcu: str
    core: str  # gcc -mcpu
    fpu: str | None  # gcc -mfpu, None = no FPU (soft float)
    flash_kb: int
    ram_kb: int
    uart: str  # peripheral and base address
    uart_pins: str
    uart_driver: str  # firmware/boards/common/uart_<driver>.c
    clock: str
    qemu_machine: str | None = None
    pyocd_target: str | None = None  # `pyocd flash -t <target>` (CMSIS-Pack device name)
    pyocd_pack: str | None = None  # `pyocd pack install <part>` provides that target
    openocd_config: str | None = None  # `openocd -f board/<cfg>`
    platformio_board: str | None = None  # PlatformIO `board =` id (platform ststm32)
    flash_base: int = 0x08000000
    notes: str = ""
    extra_cflags: tuple[str, ...] = field(default=())

    @property
    def is_qemu(self) -> bool:
        return self.qemu_machine is not None

    @property
    def flash_method(self) -> str:
        if self.is_qemu:
            return "none (QEMU: rct-tflm emulate --target NAME DIR)"
        return f"pyocd -t {self.pyocd_target} | st-flash | openocd -f board/{self.openocd_config}"

    @property
    def ram_bytes(self) -> int:
        return self.ram_kb * 1024

    @property
    def flash_bytes(self) -> int:
        return self.flash_kb * 1024

    def model_ram_budget(self, input_size: int, max_batch: int = 1) -> int:
        """RAM left for the model's arena and state on this board: what `partition` and
        `generate` allow, so that an image they accept links (`build` checks the whole)."""
        return self.ram_bytes - firmware_ram_bytes(input_size, max_batch)

    def kernel_set(self, kernels: str = "auto") -> str:
        """The kernel set a build uses: `kernels`, with "auto" resolved for this core."""
        if kernels not in KERNEL_SETS:
            raise UserError(f"unknown kernel set '{kernels}'; choose one of "
                            f"{', '.join(KERNEL_SETS)}")
        if kernels == "auto":
            return "fast" if self.core in DSP_CORES else "portable"
        if kernels == "fast" and self.core not in DSP_CORES:
            raise UserError(f"board {self.name} ({self.core}) has no DSP extension for the fast "
                            f"kernels; use --kernels portable")
        return kernels

    def kernel_flags(self, kernels: str = "auto") -> list[str]:
        return ["-DRCT_FAST_KERNELS"] if self.kernel_set(kernels) == "fast" else []

    def cpu_flags(self) -> list[str]:
        flags = [f"-mcpu={self.core}", "-mthumb"]
        if self.fpu:
            flags += [f"-mfpu={self.fpu}", "-mfloat-abi=hard"]
        else:
            flags += ["-mfloat-abi=soft"]
        return flags


BOARDS: dict[str, Board] = {b.name: b for b in [
    Board("qemu-stm32f405", "STM32F405RG", "cortex-m4", "fpv4-sp-d16", 1024, 128,
          "USART1 @0x40011000 (SR/DR layout), IRQ 37", "PA9 TX / PA10 RX, AF7", "stm32_v1",
          "HSI 16 MHz", qemu_machine="netduinoplus2", platformio_board="genericSTM32F405RG",
          notes="QEMU netduinoplus2; USART1 is QEMU serial0; 64 KB CCM unused"),
    Board("qemu-mps2-an386", "MPS2 AN386", "cortex-m4", "fpv4-sp-d16", 4096, 4096,
          "CMSDK UART0 @0x40004000, RX IRQ 0", "FPGA-wired", "cmsdk", "25 MHz (fixed)",
          qemu_machine="mps2-an386", flash_base=0x0, notes="QEMU mps2-an386"),
    Board("qemu-mps2-an500", "MPS2 AN500", "cortex-m7", "fpv5-d16", 4096, 4096,
          "CMSDK UART0 @0x40004000, RX IRQ 0", "FPGA-wired", "cmsdk", "25 MHz (fixed)",
          qemu_machine="mps2-an500", flash_base=0x0, notes="QEMU mps2-an500 (Cortex-M7)"),
    Board("nucleo-f411re", "STM32F411RE", "cortex-m4", "fpv4-sp-d16", 512, 128,
          "USART2 @0x40004400 (SR/DR layout), IRQ 38", "PA2 TX / PA3 RX, AF7 (ST-LINK VCP)",
          "stm32_v1", "HSI 16 MHz", pyocd_target="stm32f411retx", pyocd_pack="stm32f411re",
          openocd_config="st_nucleo_f4.cfg", platformio_board="nucleo_f411re"),
    Board("nucleo-f446re", "STM32F446RE", "cortex-m4", "fpv4-sp-d16", 512, 128,
          "USART2 @0x40004400 (SR/DR layout), IRQ 38", "PA2 TX / PA3 RX, AF7 (ST-LINK VCP)",
          "stm32_v1", "HSI 16 MHz", pyocd_target="stm32f446retx", pyocd_pack="stm32f446re",
          openocd_config="st_nucleo_f4.cfg", platformio_board="nucleo_f446re"),
    Board("stm32f746g-disco", "STM32F746NG", "cortex-m7", "fpv5-sp-d16", 1024, 320,
          "USART1 @0x40011000 (ISR/TDR/RDR layout), IRQ 37",
          "PA9 TX / PB7 RX, AF7 (ST-LINK VCP)", "stm32_v2", "HSI 16 MHz",
          pyocd_target="stm32f746nghx", pyocd_pack="stm32f746ng",
          openocd_config="stm32f746g-disco.cfg", platformio_board="disco_f746ng"),
    Board("nucleo-l476rg", "STM32L476RG", "cortex-m4", "fpv4-sp-d16", 1024, 96,
          "USART2 @0x40004400 (ISR/TDR/RDR layout), IRQ 38",
          "PA2 TX / PA3 RX, AF7 (ST-LINK VCP)", "stm32_v2", "HSI16 (switched from MSI 4 MHz)",
          pyocd_target="stm32l476rgtx", pyocd_pack="stm32l476rg",
          openocd_config="st_nucleo_l4.cfg", platformio_board="nucleo_l476rg",
          notes="SRAM2 (32 KB) unused"),
]}

# Pseudo-board: the same firmware compiled with host gcc, stdin/stdout as the UART.
HOST = "host"


QEMU_BOARDS = tuple(n for n, b in BOARDS.items() if b.is_qemu)


def get_board(name: str) -> Board:
    """The board called `name`, or a UserError listing the known ones."""
    try:
        return BOARDS[name]
    except KeyError:
        raise UserError(f"unknown board '{name}'; known boards: {', '.join(BOARDS)} "
                        f"(see `rct-tflm boards`)") from None


def model_ram_budget(board_name: str, input_size: int,
                     ram_limit: int | None = None, max_batch: int = 1) -> int | None:
    """RAM left for the model (arena + state) when the whole firmware may use `ram_limit` bytes
    (--ram-budget; default the board's RAM, for the host build no limit)."""
    if ram_limit is not None and ram_limit <= 0:
        raise UserError(f"--ram-budget must be a positive number of bytes, got {ram_limit}")
    if ram_limit is None:
        if board_name == HOST:
            return None
        ram_limit = get_board(board_name).ram_bytes
    fw = firmware_ram_bytes(input_size, max_batch)
    if ram_limit <= fw:
        raise UserError(f"a RAM limit of {ram_limit} B leaves nothing for the model: the firmware "
                        f"itself needs {fw} B (stack, link buffers for {input_size}-byte samples, "
                        f"app state); raise --ram-budget or pick a bigger board")
    return ram_limit - fw


def board_table() -> list[dict]:
    """One dict per board, for `rct-tflm boards` and docs/boards.md."""
    return [{"name": b.name, "mcu": b.mcu, "core": b.core, "fpu": b.fpu or "none",
             "flash_kb": b.flash_kb, "ram_kb": b.ram_kb, "uart": b.uart, "pins": b.uart_pins,
             "clock": b.clock, "qemu": b.qemu_machine or "-", "flash_method": b.flash_method,
             "default": b.name == DEFAULT_BOARD} for b in BOARDS.values()]
