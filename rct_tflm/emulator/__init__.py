"""Emulators: the generated firmware built for the host (gcc) and, later, QEMU Cortex-M boards."""
