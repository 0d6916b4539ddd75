"""Keras model (tf_keras or Keras 3; Sequential or functional, chains and residual graphs) ->
model artefact.

The result is a `ModelArtefact` whose parameter tensors are float32 arrays in Keras layout
(docs/artefact.md): dense (in, out); conv2d H W I O; depthwise_conv2d H W C M; conv1d W I O;
embedding (vocab, dim); every bias (out,). The trainer quantises them.

Which Keras classes import as which kind, and each kind's config, output shape and tensors,
come from the kind modules (rct_tflm/program/kinds/: `KERAS`, `from_keras`, which read the
Keras config dicts and weights handed to them, so the program never imports TensorFlow). This
module owns what is not a kind: the graph walk (which layer reads which), and the layers it
folds away.
BatchNormalization folds into the conv/dense before it (kernel and bias); Activation('linear'),
InputLayer and a softmax on the last layer vanish (training uses logits + softmax
cross-entropy, which is the same model); a ReLU / ReLU6 right after a conv/dense with a linear
activation fuses into that layer's `activation`, and otherwise becomes a relu / relu6 layer.
Layers without a bias get a zero bias (the integer engine always adds one; it is trained like
any other tensor).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ..artefact import MODEL_INPUT, Layer, ModelArtefact
from ..errors import UserError
from ..program import kinds
from ..program.kinds import KerasLayer, Unsupported, act_name

_FOLDED = ("BatchNormalization", "ReLU", "Activation", "Softmax")  # folded or fused, not kinds
SUPPORTED = ("InputLayer", *filter(None, map(kinds.keras_name, kinds.known())),
             "BatchNormalization", "ReLU", "Activation(relu|relu6|linear)",
             "softmax on the last layer only")
# Keras class names the importer handles (aliases included): a saved model is checked against
# this list before it is deserialised (models.load_keras_file).
SUPPORTED_CLASSES = frozenset(("InputLayer", *_FOLDED, *kinds.keras_classes()))


def unsupported_error(name: str, class_name: str, why: str = "") -> UserError:
    why = f" ({why})" if why else ""
    return UserError(f"layer '{name}' ({class_name}) is not supported{why}; "
                     f"supported layers: {', '.join(SUPPORTED)}")


def _unsupported(layer: Any, why: str = "") -> UserError:
    return unsupported_error(layer.name, type(layer).__name__, why)


def _graph(model: Any) -> tuple[list[Any], dict[str, list[str]]]:
    """The model's layers in topological order and, per layer name, the names of the layers
    whose outputs it reads (None: the model input). UserError unless it has one input, one
    output and every layer is called once."""
    layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
    if type(model).__name__ == "Sequential":
        return layers, {l.name: [p.name] if p else [None] for p, l in zip([None, *layers], layers)}
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserError(f"model '{model.name}' has {len(model.inputs)} inputs and "
                        f"{len(model.outputs)} outputs; only single-input single-output models "
                        "are supported")
    producer = {id(model.inputs[0]): None}
    for l in layers:
        producer[id(l.output)] = l.name
    reads = {}
    for l in layers:
        # tf_keras and Keras 3 keep one inbound node per call (no public API counts them)
        if len(getattr(l, "_inbound_nodes", ())) > 1:
            raise UserError(f"layer '{l.name}' ({type(l).__name__}) is used more than once; "
                            "shared layers are not supported, give each call its own layer")
        inp = l.input
        ins = list(inp) if isinstance(inp, (list, tuple)) else [inp]
        if any(id(t) not in producer for t in ins):
            raise UserError(f"layer '{l.name}' ({type(l).__name__}) reads a tensor no layer "
                            "of the model produces; rebuild it as one functional graph")
        reads[l.name] = [producer[id(t)] for t in ins]
    return layers, reads


def _input_shape(model: Any) -> tuple[tuple[int, ...], str]:
    t = model.inputs[0]
    shape = tuple(t.shape[1:])
    if any(d is None for d in shape):
        raise UserError(f"model '{model.name}' input shape {shape} has unknown dimensions; "
                        "give the Input layer a fixed shape")
    dtype = getattr(t, "dtype", "float32")
    return tuple(int(d) for d in shape), str(getattr(dtype, "name", dtype))


def import_keras(model: Any) -> tuple[ModelArtefact, dict]:
    """(artefact with float32 tensors, import notes {"folded_bn": [...], "final_softmax": bool})."""
    seq, reads = _graph(model)
    in_shape, in_dtype = _input_shape(model)
    layers: list[Layer] = []
    tensors: dict[str, np.ndarray] = {}
    notes: dict[str, Any] = {"folded_bn": [], "final_softmax": False, "fused_relu": []}
    by_class = kinds.keras_classes()
    readers = Counter(p for ps in reads.values() for p in ps)  # Keras layer -> its consumers
    out_of: dict[str | None, str] = {None: MODEL_INPUT}  # Keras layer -> artefact tensor it is
    shape_of: dict[str, tuple[int, ...]] = {MODEL_INPUT: in_shape}

    for i, l in enumerate(seq):
        cls = type(l).__name__
        cfg = l.get_config()
        last = i == len(seq) - 1
        name = l.name.replace("/", "_")
        srcs = [out_of[p] for p in reads[l.name]]
        shape = shape_of[srcs[0]]
        # BN folds and ReLU fuses into the layer it reads if nothing else reads that layer
        prod = next((x for x in reversed(layers) if x.name == srcs[0]), None)
        alone = prod is not None and len(srcs) == 1 and readers[reads[l.name][0]] == 1
        w = [np.asarray(a, dtype=np.float32) for a in l.get_weights()]
        if last and act_name(cfg.get("activation")) == "softmax":
            notes["final_softmax"] = True  # Dense(..., activation="softmax"): kept as logits
        if cls in by_class:
            kind = by_class[cls]
            if len(srcs) != kinds.arity(kind):
                raise _unsupported(l, f"{len(srcs)} inputs; it takes {kinds.arity(kind)}")
            if len({shape_of[s] for s in srcs}) > 1:
                raise _unsupported(l, f"inputs of shapes {[shape_of[s] for s in srcs]}; "
                                      f"they must match (no broadcasting)")
            try:
                conf, out, ts = kinds.kind(kind).from_keras(
                    KerasLayer(name, cfg, w, shape, last, not layers))
            except Unsupported as e:
                raise _unsupported(l, str(e)) from None
            layers.append(Layer(name, kind, conf, shape, out, {r: f"{name}/{r}" for r in ts},
                                inputs=srcs))
            tensors.update({f"{name}/{r}": t for r, t in ts.items()})
        elif cls == "BatchNormalization":
            if not alone:
                raise _unsupported(l, "BatchNormalization must follow a Dense/Conv layer that "
                                      "nothing else reads")
            _fold_bn(l, cfg, w, shape, prod, tensors)
            notes["folded_bn"].append(f"{name} -> {prod.name}")
            out_of[l.name] = srcs[0]
            continue
        elif cls in ("ReLU", "Activation", "Softmax"):
            act = _activation_layer(l, cls, cfg)
            if act == "linear":
                out_of[l.name] = srcs[0]
                continue
            if act == "softmax":
                if not last:
                    raise _unsupported(l, "softmax is allowed on the last layer only")
                notes["final_softmax"] = True
                out_of[l.name] = srcs[0]
                continue
            if act not in ("relu", "relu6"):
                raise _unsupported(l, f"activation '{act}'; use relu, relu6 or linear")
            if alone and kinds.affine(prod.kind) and prod.config["activation"] == "linear":
                prod.config["activation"] = act
                notes["fused_relu"].append(f"{name} -> {prod.name}")
                out_of[l.name] = srcs[0]
                continue
            layers.append(Layer(name, act, {}, shape, shape, inputs=srcs))  # relu / relu6 kind
            out = shape
        else:
            raise _unsupported(l)
        out_of[l.name] = name
        shape_of[name] = out
    if not any(l.params for l in layers):
        raise UserError(f"model '{model.name}' has no Dense/Conv/Embedding layer to train")
    if out_of[seq[-1].name] != layers[-1].name:
        raise UserError(f"model '{model.name}': its output is not its last layer's; rebuild it "
                        f"so the logits layer comes last")
    shape = tuple(layers[-1].output_shape)
    if len(shape) != 1:
        raise UserError(f"model '{model.name}' ends with shape {shape}; the last layer must give "
                        "one logit per class (end with Dense(num_classes))")
    for j, l in enumerate(layers):  # a chain keeps the chain form (no `inputs`)
        if l.inputs == [layers[j - 1].name if j else MODEL_INPUT]:
            l.inputs = None
    art = ModelArtefact(layers, dict(tensors), in_shape, int(shape[0]),
                        trainable=set(tensors))
    art.training["input_dtype"] = "int32" if "int" in in_dtype else "float32"
    return art, notes


def _activation_layer(l: Any, cls: str, cfg: dict) -> str:
    """The activation a ReLU / Activation / Softmax layer applies."""
    if cls == "Softmax":
        return "softmax"
    if cls == "Activation":
        return act_name(cfg.get("activation"))
    if cfg.get("negative_slope", 0) or cfg.get("threshold", 0):
        raise _unsupported(l, "leaky/thresholded ReLU")
    mv = cfg.get("max_value")
    return "relu" if mv is None else "relu6" if float(mv) == 6.0 else f"relu(max={mv})"


def _fold_bn(l: Any, cfg: dict, w: list[np.ndarray], shape: tuple[int, ...], p: Layer,
             tensors: dict[str, np.ndarray]) -> None:
    """Fold a BatchNormalization into the kernel and bias of the affine layer p it reads."""
    if not kinds.affine(p.kind):
        raise _unsupported(l, "BatchNormalization must follow a Dense/Conv layer")
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if axis not in (-1, len(shape)):
        raise _unsupported(l, f"normalisation over axis {axis}; only the channel (last) axis")
    if p.config["activation"] != "linear":
        raise _unsupported(l, f"it follows '{p.name}' whose {p.config['activation']} "
                              "activation prevents folding; move the activation after BN")
    it = iter(w)
    gamma = next(it) if cfg.get("scale", True) else np.ones(shape[-1], np.float32)
    beta = next(it) if cfg.get("center", True) else np.zeros(shape[-1], np.float32)
    mean, var = next(it), next(it)
    s = (gamma / np.sqrt(var + float(cfg.get("epsilon", 1e-3)))).astype(np.float64)
    k = tensors[p.params["kernel"]].astype(np.float64)
    k = k * s.reshape(k.shape[-kinds.kernel_out_axes(p.kind):])  # scale each output channel
    b = (tensors[p.params["bias"]].astype(np.float64) - mean) * s + beta
    tensors[p.params["kernel"]] = k.astype(np.float32)
    tensors[p.params["bias"]] = b.astype(np.float32)
