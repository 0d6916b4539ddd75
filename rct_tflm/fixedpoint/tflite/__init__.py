"""TensorFlow Lite Micro's int8 reference arithmetic in numpy: the frozen part's second numeric
contract (docs/numerics.md, "TFLite arithmetic"), integer for integer what the reference kernels
of tflite-micro compute (tests/test_tflite_kernels.py checks each against its interpreter).

One module per kernel; `multiplier` holds the fixed-point rescaling every kernel shares."""
