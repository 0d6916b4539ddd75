"""Flower's view of one board: a ClientProxy that calls the board's client in this process.

The boards hang off this host's serial ports (or are processes it started), so the federated
boundary is the serial link, not a network: Flower's server, strategy and round logic run here
and talk to each BoardClient directly. `fit` enforces the round timeout itself (Flower leaves it
to the proxy): a board that has not answered in time is killed if rct-tflm started it and is
reported failed, so one dead board never stalls a round.
"""
from __future__ import annotations

import threading

from flwr.common import (Code, DisconnectRes, EvaluateIns, EvaluateRes, FitIns, FitRes,
                         GetParametersIns, GetParametersRes, GetPropertiesIns, GetPropertiesRes,
                         ReconnectIns, Status, ndarrays_to_parameters, parameters_to_ndarrays)
from flwr.server.client_proxy import ClientProxy

from .client import BoardClient


# Flower's parameters are .npy bytes; np.load parses each header with ast.literal_eval, and
# CPython 3.11 can fail ast parsing done in several threads at once ("AST constructor recursion
# depth mismatch", gh-106905): the boards' threads decode their parameters one at a time.
_DECODE = threading.Lock()


class BoardFailed(Exception):
    """A board's round ended without weights (it died, timed out or the link gave up)."""

    def __init__(self, board: int, reason: str) -> None:
        super().__init__(f"board{board}: {reason}")
        self.board, self.reason = board, reason


class BoardProxy(ClientProxy):
    def __init__(self, client: BoardClient) -> None:
        super().__init__(client.handle.name)
        self.node_id = client.handle.index
        self.client = client

    def fit(self, ins: FitIns, timeout: float | None, group_id: int | None) -> FitRes:
        box: dict = {}

        def work() -> None:
            try:
                with _DECODE:
                    arrays = parameters_to_ndarrays(ins.parameters)
                out, n, metrics = self.client.fit(arrays, dict(ins.config))
                box["res"] = FitRes(Status(Code.OK, ""), ndarrays_to_parameters(out), n, metrics)
            except Exception as e:  # noqa: BLE001 - every failure of one board is that board's
                box["err"] = e

        t = threading.Thread(target=work, name=f"fit-{self.cid}", daemon=True)
        t.start()
        t.join(timeout)
        h = self.client.handle
        if t.is_alive():
            h.abandon()  # its thread then fails on the dead link and ends
            raise BoardFailed(h.index, f"no result within the round timeout ({timeout:g} s)")
        if "err" in box:
            raise BoardFailed(h.index, str(box["err"]).splitlines()[0] or
                              type(box["err"]).__name__)
        return box["res"]

    def get_parameters(self, ins: GetParametersIns, timeout: float | None,
                       group_id: int | None) -> GetParametersRes:
        return self.client.to_client().get_parameters(ins)

    def get_properties(self, ins: GetPropertiesIns, timeout: float | None,
                       group_id: int | None) -> GetPropertiesRes:
        return GetPropertiesRes(Status(Code.OK, ""), {"where": self.client.handle.where})

    def evaluate(self, ins: EvaluateIns, timeout: float | None,
                 group_id: int | None) -> EvaluateRes:
        return self.client.to_client().evaluate(ins)

    def reconnect(self, ins: ReconnectIns, timeout: float | None,
                  group_id: int | None) -> DisconnectRes:
        return DisconnectRes("")
