"""Checking rct_tflm's frozen part against TensorFlow Lite Micro itself (the `tflite-micro`
interpreter, pinned): integer for integer, and if not, which sample and which layer first."""
