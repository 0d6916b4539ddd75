"""Test driver for the hand-written C kernels (see driver.py)."""
