"""`rct-tflm profile`: exact instruction counts of a built firmware's training step and inference,
per kernel call, from an instruction-counting Cortex-M emulator (unicorn), checked against the
golden engine (docs/profile.md). No TensorFlow.

elf.py      ELF segments, symbols, debug ranges, static sizes (pyelftools)
machine.py  the emulated core: load, call, stack painting (unicorn)
trace.py    block-hook instruction counting and kernel-call attribution
costs.py    Cortex-M4/M7 cycle-cost table (an estimate on top of the exact counts)
program.py  expected kernel calls, layers and MACs from the lowered program
run.py      profile a built firmware against the golden engine
report.py   profile.json, the table and the plot
"""
