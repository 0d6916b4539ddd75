"""rct_tflm: Resource Constrained Training (RCT) from Keras to Cortex-M.

Importing the package is cheap: TensorFlow is only imported by the trainer (`rct_tflm.rct`).
"""
__version__ = "0.1.0"
