"""The Flower strategy of a fleet: FedAvg's round logic with the integer-domain average.

Flower samples the boards, sends each the global model and its round plan, collects results and
failures; this strategy replaces FedAvg's float weighted mean with fixedpoint.fedavg (docs/
numerics.md, "Integer FedAvg": aligned to the widest bitwidth, capped at the controller's
bits_max, weighted by samples, stochastically rounded with the round's PRNG stream), and
evaluates the global model on the server with the golden engine (bit-exact with every board's
INFER). A round with fewer than `min_boards` results keeps the previous global model.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
from flwr.common import FitIns, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server.client_manager import ClientManager
from flwr.server.strategy import FedAvg

from ..fixedpoint.fedavg import fedavg
from ..stream.device_model import DeviceModel
from .client import RoundPlan
from .params import from_arrays, to_arrays
from .proxy import BoardFailed


@dataclass
class RoundRecord:
    round: int
    started: float = 0.0
    seconds: float = 0.0
    test_accuracy: float | None = None
    aggregated: bool = False
    samples: int = 0
    rejoined: list[int] = field(default_factory=list)  # boards started again before the round
    boards: dict[int, dict] = field(default_factory=dict)  # board -> its fit metrics
    missed: dict[int, str] = field(default_factory=dict)  # board -> why it has no result
    global_bits: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**self.__dict__, "boards": {str(k): v for k, v in self.boards.items()},
                "missed": {str(k): v for k, v in self.missed.items()}}

    @classmethod
    def from_json(cls, d: dict) -> "RoundRecord":
        return cls(**{**d, "boards": {int(k): v for k, v in d["boards"].items()},
                      "missed": {int(k): v for k, v in d["missed"].items()}})


class IntegerFedAvg(FedAvg):
    def __init__(self, dm: DeviceModel, initial: list[np.ndarray], plan: RoundPlan,
                 first_round: int, min_boards: int, kill: dict[int, int],
                 evaluate_global: Callable[[list[np.ndarray]], float],
                 before_round: Callable[[int], list[int]],
                 after_round: Callable[[RoundRecord, list[np.ndarray]], None]) -> None:
        super().__init__(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=1, min_evaluate_clients=1,
                         min_available_clients=1, accept_failures=True,
                         initial_parameters=ndarrays_to_parameters(initial))
        self.dm, self.plan, self.first_round = dm, plan, first_round
        self.min_boards, self.kill = min_boards, kill
        self.evaluate_global, self.before_round, self.after_round = \
            evaluate_global, before_round, after_round
        self.names = list(dm.model.trainable)
        self.like = [dm.model.tensors[n] for n in self.names]
        self.bits_cap = {n: int(b) for n, b in dm.model.bits_max.items()}
        self.current: RoundRecord | None = None

    def round_no(self, server_round: int) -> int:
        """Flower counts the rounds of this server run; a resumed fleet continues its count."""
        return self.first_round + server_round - 1

    def configure_fit(self, server_round: int, parameters, client_manager: ClientManager):
        r = self.round_no(server_round)
        self.current = RoundRecord(r, started=time.monotonic(), rejoined=self.before_round(r))
        pairs = super().configure_fit(server_round, parameters, client_manager)
        out = []
        for proxy, _ in sorted(pairs, key=lambda p: p[0].node_id):
            plan = replace(self.plan, round_no=r, kill=self.kill.get(proxy.node_id) == r)
            out.append((proxy, FitIns(parameters, plan.config())))
        return out

    def aggregate_fit(self, server_round: int, results, failures):
        rec = self.current
        assert rec is not None
        for f in failures:
            if isinstance(f, BoardFailed):
                rec.missed[f.board] = f.reason
            else:  # (proxy, FitRes) with a status that is not OK
                proxy, res = f if isinstance(f, tuple) else (None, None)
                rec.missed[getattr(proxy, "node_id", -1)] = getattr(
                    getattr(res, "status", None), "message", repr(f))
        done = sorted(results, key=lambda p: p[0].node_id)
        models, samples = [], []
        for proxy, res in done:
            tensors = from_arrays(parameters_to_ndarrays(res.parameters), self.like)
            models.append(dict(zip(self.names, tensors)))
            samples.append(int(res.num_examples))
            m = dict(res.metrics)
            m["bits"] = json.loads(str(m["bits"]))
            rec.boards[int(proxy.node_id)] = {**m, "samples": int(res.num_examples)}
        rec.samples = sum(samples)
        if len(done) < self.min_boards:
            return None, {}
        avg = fedavg(models, samples, self.plan.seed, rec.round, self.bits_cap, self.names)
        rec.aggregated = True
        rec.global_bits = {n: int(avg[n].bits) for n in self.names}
        return ndarrays_to_parameters(to_arrays([avg[n] for n in self.names])), {}

    def evaluate(self, server_round: int, parameters):
        arrays = parameters_to_ndarrays(parameters)
        if server_round == 0:
            return None
        rec = self.current
        assert rec is not None
        rec.test_accuracy = self.evaluate_global(arrays)
        rec.seconds = time.monotonic() - rec.started
        self.after_round(rec, arrays)
        return 0.0, {"accuracy": rec.test_accuracy}

    def configure_evaluate(self, server_round: int, parameters, client_manager: ClientManager):
        return []  # the global model is evaluated on the server (evaluate)
