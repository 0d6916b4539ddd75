"""Golden integer kernels of the training engine (numpy, int64 intermediates, no TensorFlow).

Each function is the twin of one C function in firmware/ (declared in firmware/include/rct.h),
with the same argument order and semantics, minus the C-only sizes (taken from array shapes)
and output buffers (returned). Tests compare them integer by integer; the rules are in
docs/numerics.md ("Integer training engine").

Arrays: activations int8 values (returned as np.int8) NHWC or [n, features]; errors int16
values (returned as np.int16) with an int exponent; weights any integer dtype holding values of
`bits` bits, Keras layouts (dense [in, out], conv2d [kh, kw, cin, cout], depthwise
[kh, kw, cin, dm]); gradients int32 values (np.int32 arrays, accumulated in place by
`*_backward_weight`). Exponents are Python ints; real value = q * 2**exp.

Module map (one per layer type):
  accum      max_safe_bits(fan_in), needs_int64(fan_in, bits_max), ACC32/ACC64
  common     asr, shl_sat, round_nearest, sat, div_round, normalize_i16, relu6_upper, act_apply
  shapes     ConvShape, conv_shape(in_hwc, kernel, strides, padding, n, depth_multiplier),
             global_pool_shape (a global average pool is avgpool2d with one full window)
  dense      dense_forward, dense_backward_input, dense_backward_weight, dense_backward_update
  conv2d     conv2d_forward, conv2d_backward_input, conv2d_backward_weight, conv2d_backward_update
  depthwise  depthwise_conv2d_forward / _backward_input / _backward_weight / _backward_update
  activation relu_forward, relu_backward, requantize_i8 (flatten is a reshape: no kernel)
  pool       maxpool2d_forward, maxpool2d_backward, avgpool2d_forward, avgpool2d_backward
  update     update(q, exp, bits, g, g_exp, lr_shift, rng, stochastic) -> (q_new, gavg_q16),
             bias_backward, bias_backward_update, gavg_q16_int
  (bit changes: the contract's QTensor.add_low_bit/drop_low_bit/add_high_bit are the golden
   twins of rct_bitwidth.c; the controller is fixedpoint.controller.BitwidthController)
  softmax_ce softmax_ce(z, z_exp, labels) -> (dz, loss_q16_sum, correct), argmax_i8
  mse        mse_loss(y, y_exp, t, t_exp) -> (dy, dy_exp, loss_q16_sum, scores_q16)
  residual   add_forward (residual Add), err_add (two errors at one tensor), align_exp
"""
from .accum import ACC32, ACC64, max_safe_bits, needs_int64
from .activation import relu_backward, relu_forward, requantize_i8
from .common import (ACT_LINEAR, ACT_RELU, ACT_RELU6, act_apply, asr, div_round, normalize_i16,
                     relu6_upper, round_nearest, sat, shl_sat)
from .conv2d import (conv2d_backward_input, conv2d_backward_update, conv2d_backward_weight,
                     conv2d_forward)
from .dense import (dense_backward_input, dense_backward_update, dense_backward_weight,
                    dense_forward)
from .depthwise import (depthwise_conv2d_backward_input, depthwise_conv2d_backward_update,
                        depthwise_conv2d_backward_weight, depthwise_conv2d_forward)
from .mse import mse_loss
from .pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .residual import add_forward, align_exp, err_add
from .shapes import ConvShape, conv_shape, global_pool_shape
from .softmax_ce import CE_GRAD_EXP, argmax_i8, softmax_ce
from .grad_update import bias_backward, bias_backward_update, gavg_q16_int, update

__all__ = [
    "ACC32", "ACC64", "max_safe_bits", "needs_int64", "relu_backward", "relu_forward",
    "requantize_i8", "ACT_LINEAR", "ACT_RELU", "ACT_RELU6", "act_apply", "asr", "div_round",
    "normalize_i16", "relu6_upper", "round_nearest", "sat", "shl_sat", "conv2d_backward_input",
    "conv2d_backward_update", "conv2d_backward_weight", "conv2d_forward", "dense_backward_input",
    "dense_backward_update", "dense_backward_weight", "dense_forward",
    "depthwise_conv2d_backward_input", "depthwise_conv2d_backward_update",
    "depthwise_conv2d_backward_weight", "depthwise_conv2d_forward", "avgpool2d_backward",
    "avgpool2d_forward", "maxpool2d_backward", "maxpool2d_forward", "ConvShape", "conv_shape",
    "global_pool_shape",
    "CE_GRAD_EXP", "argmax_i8", "softmax_ce", "bias_backward", "bias_backward_update",
    "gavg_q16_int", "update", "mse_loss", "add_forward", "align_exp", "err_add",
]
