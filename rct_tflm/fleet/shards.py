"""Which training samples each board of a fleet holds: disjoint shards, IID or label-skewed.

`iid`: a seeded permutation of the training set cut into N near-equal parts.
`dirichlet:ALPHA`: the usual label-skew benchmark (Hsu et al. 2019, "Measuring the effects of
non-identical data distribution"): for every class, the proportions of its samples going to the
N boards are drawn from Dirichlet(ALPHA, ..., ALPHA); small ALPHA gives boards that see few
classes. Drawn again (same generator) until every board holds at least `min_size` samples, so no
board is left with too little to train a micro-batch. Both are deterministic for a seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError

MAX_DRAWS = 1000  # Dirichlet redraws before giving up on min_size


@dataclass(frozen=True)
class SplitSpec:
    kind: str  # "iid" | "dirichlet"
    alpha: float = 0.0

    def __str__(self) -> str:
        return "iid" if self.kind == "iid" else f"dirichlet:{self.alpha:g}"


def parse_split(spec: str) -> SplitSpec:
    """`iid` or `dirichlet:ALPHA` (ALPHA > 0), else a one-line UserError."""
    s = spec.strip().lower()
    if s == "iid":
        return SplitSpec("iid")
    if s.startswith("dirichlet:"):
        try:
            alpha = float(s.split(":", 1)[1])
        except ValueError:
            alpha = -1.0
        if alpha > 0 and np.isfinite(alpha):
            return SplitSpec("dirichlet", alpha)
    raise UserError(f"--split '{spec}' is not iid or dirichlet:ALPHA with ALPHA > 0 "
                    f"(e.g. dirichlet:0.5)")


def split_shards(y: np.ndarray, boards: int, spec: SplitSpec, seed: int,
                 min_size: int = 1) -> list[np.ndarray]:
    """Disjoint sorted index arrays into `y`, one per board, covering every sample."""
    n = len(y)
    if boards < 1:
        raise UserError(f"--boards must be >= 1, got {boards}")
    if n < boards * min_size:
        raise UserError(f"{n} training samples cannot give {boards} boards {min_size} each; "
                        f"use fewer --boards")
    rng = np.random.default_rng(seed)
    if spec.kind == "iid":
        return [np.sort(p) for p in np.array_split(rng.permutation(n), boards)]
    classes = np.unique(y)
    for _ in range(MAX_DRAWS):
        parts: list[list[int]] = [[] for _ in range(boards)]
        for c in classes:
            idx = rng.permutation(np.flatnonzero(y == c))
            cuts = (np.cumsum(rng.dirichlet([spec.alpha] * boards))[:-1] * len(idx)).astype(int)
            for b, chunk in enumerate(np.split(idx, cuts)):
                parts[b].extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]
    raise UserError(f"--split {spec} left a board with fewer than {min_size} samples in "
                    f"{MAX_DRAWS} draws; use a larger ALPHA or fewer --boards")


def class_counts(y: np.ndarray, shards: list[np.ndarray], classes: int) -> list[list[int]]:
    """Samples of each class per board (the report's shard table)."""
    return [np.bincount(y[s], minlength=classes).astype(int).tolist() for s in shards]
