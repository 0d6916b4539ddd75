"""rct_tflm: Resource Constrained Training (RCT) from Keras to Cortex-M.

Importing the package is cheap: TensorFlow is only imported by the trainer (`rct_tflm.trainer`).
"""
__version__ = "0.1.0"

import os as _os

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) is noise for our users.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
