"""Choose or check the split of a model for a board and write its plan.

The trainable part is a suffix of the parametric layers. Given no split, `partition` takes the
deepest suffix whose training step fits the board's RAM (or a smaller --ram-budget): it lowers
the model for every suffix length from the whole model down and keeps the first that fits. A
split the user gives (--trainable-layers, --frozen-layers, --trainable-from) is checked, and
refused with what overflows and the deepest split that would fit.

Numpy only: no TensorFlow.
"""
from __future__ import annotations

from ..artefact import ModelArtefact
from ..boards import DEFAULT_BOARD, Board, get_board
from ..codegen.layout import Layout, build_layout
from ..codegen.render import state_bytes
from ..errors import UserError
from ..fixedpoint.config import EngineConfig
from ..formats import plan as plan_format
from ..program import Program, kinds, lower
from .memory_table import layer_rows, overflow_text, ram_items


def _parametric(art: ModelArtefact) -> list:
    return [l for l in art.layers if kinds.params(l.kind)]


def frozen_before(art: ModelArtefact, layer: str) -> int:
    """--trainable-from LAYER as a count of frozen parametric layers: the suffix starts at the
    first parametric layer at or after LAYER."""
    names = [l.name for l in art.layers]
    if layer not in names:
        raise UserError(f"--trainable-from {layer}: the model has no such layer; its layers: "
                        f"{', '.join(names)}")
    at = names.index(layer)
    pl = _parametric(art)
    later = [i for i, l in enumerate(pl) if names.index(l.name) >= at]
    if not later:
        raise UserError(f"--trainable-from {layer}: no parametric layer at or after it, nothing "
                        f"would train; name one of {', '.join(l.name for l in pl)}")
    return later[0]


class _Candidate:
    """One split lowered, laid out and costed."""

    def __init__(self, art: ModelArtefact, cfg: EngineConfig, frozen: int | None,
                 trainable: int | None = None) -> None:
        self.m: Program = lower(art, cfg, trainable, frozen)
        self.lay: Layout = build_layout(self.m)
        self.state = state_bytes(len(self.m.trainable))
        self.items = ram_items(self.m, self.lay, self.state, cfg.max_batch)
        self.total = sum(self.items.values())

    @property
    def trainable_layers(self) -> int:
        return len({t.layer for t in self.m.table if t.trainable})


def _deepest_fit(art: ModelArtefact, cfg: EngineConfig, limit: int,
                 below: int | None = None) -> _Candidate | None:
    """The split with the most trainable parametric layers (fewer than `below`) that fits."""
    n = len(_parametric(art))
    for frozen in range(0 if below is None else n - below + 1, n):
        c = _Candidate(art, cfg, frozen)
        if c.total <= limit:
            return c
    return None


def ram_limit_for(b: Board, ram_limit: int | None) -> int:
    """The RAM a plan may use: the board's, or a smaller --ram-budget."""
    if ram_limit is None:
        return b.ram_bytes
    if not 0 < ram_limit <= b.ram_bytes:
        raise UserError(f"--ram-budget {ram_limit} B must be positive and at most {b.name}'s "
                        f"{b.ram_bytes} B of RAM; lower it or pick a bigger board")
    return int(ram_limit)


def partition(art: ModelArtefact, board: str = DEFAULT_BOARD, trainable_layers: int | None = None,
              frozen_layers: int | None = None, cfg: EngineConfig | None = None,
              ram_limit: int | None = None, trainable_from: str | None = None) -> ModelArtefact:
    """A copy of `art` split for `board`: the user's split (checked), else the deepest trainable
    suffix that fits `ram_limit` (default: the board's RAM). UserError when none fits."""
    b = get_board(board)
    cfg = cfg or EngineConfig()
    limit = ram_limit_for(b, ram_limit)
    if trainable_from is not None:
        if trainable_layers is not None or frozen_layers is not None:
            raise UserError("give one of --trainable-layers, --frozen-layers, --trainable-from")
        frozen_layers = frozen_before(art, trainable_from)
    given = trainable_layers is not None or frozen_layers is not None
    if given:
        c = _Candidate(art, cfg, frozen_layers, trainable_layers)
        if c.total > limit:
            fit = _deepest_fit(art, cfg, limit, below=c.trainable_layers)
            fix = (f"train fewer layers: --trainable-layers {fit.trainable_layers} fits "
                   f"({fit.total} B)" if fit else "no split fits: a smaller --batch-size, a "
                   "bigger board or a smaller model input")
            raise UserError(f"the plan for {b.name} does not fit its RAM, "
                            f"{overflow_text(c.items, limit, c.lay)}; {fix}")
    else:
        c = _deepest_fit(art, cfg, limit)
        if c is None:
            last = _Candidate(art, cfg, len(_parametric(art)) - 1)
            raise UserError(f"no split fits {b.name}: even the last layer alone needs "
                            f"{overflow_text(last.items, limit, last.lay)}; pick a bigger board, "
                            f"a smaller --batch-size or a smaller model input")
    m = c.m
    frozen_flash = (sum(m.tensors[n].size for n in m.tensors if n not in m.trainable)  # int8
                    + sum(p.const_bytes for p in m.plans.values()))  # a frozen .tflite part
    if frozen_flash > b.flash_bytes:
        raise UserError(f"the frozen part needs {frozen_flash} B of flash, {b.name} has "
                        f"{b.flash_bytes} B; pick a bigger board")
    by_kind: dict[str, int] = {}
    for buf in c.lay.buffers:
        by_kind[buf.kind] = by_kind.get(buf.kind, 0) + buf.size
    train_set = set(m.trainable)
    pl = _parametric(art)
    model_total = c.items["arena"] + c.items["state"]
    plan = plan_format.new(
        board=b.name, max_batch=cfg.max_batch,
        frozen_layers=[*m.plans,  # a frozen .tflite part, then frozen parametric layers
                       *(l.name for l in pl if not set(l.params.values()) & train_set)],
        trainable_layers=[l.name for l in pl if set(l.params.values()) & train_set],
        trainable_tensors=list(m.trainable),
        bits_max={n: int(v) for n, v in m.bits_max.items()},
        frozen_flash_bytes=int(frozen_flash),
        trainable_params=int(sum(m.tensors[n].size for n in m.trainable)),
        split="given" if given else "deepest that fits",
        layers=[r.as_dict() for r in layer_rows(m, c.lay)],
        ram={"arena": c.items["arena"], "state": c.items["state"], "model_total": model_total,
             "by_kind": {k: int(v) for k, v in by_kind.items()},
             "firmware_reserve": c.total - model_total, "board_ram": b.ram_bytes,
             "items": c.items, "total": c.total, "limit": limit})
    return ModelArtefact(list(art.layers), {n: t.copy() for n, t in m.tensors.items()},
                         art.input_shape, art.num_classes, set(m.trainable), dict(art.preprocess),
                         dict(art.training), plan, dict(art.files))
