"""The trainer: RCT training on the workstation (TensorFlow): Keras import, quantised forward, trainer, baselines.

Import the submodules directly; this package imports nothing heavy by itself.
"""
