"""A federation without Flower's runtime: a grid that lists nodes, and replies built by the
client piece (``sbrml.flower.reply``) to the strategy's own instructions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Error, Message, RecordDict
from flwr.supercore.task_identity import TaskIdentity

import sbrml.optimized as opt
from sbrml.flower import SecureRobustStrategy, Template, reply

RUN_ID = 7
FIRST_NODE = 100
TEMPLATE = Template(("w", "b"), ((3, 4), (4,)), ("float64", "float64"))  # d = 16


class Grid:
    """What FedAvg's sampling reads of a Grid: the connected node ids."""

    def __init__(self, nodes: Sequence[int]) -> None:
        self.nodes = list(nodes)

    def get_node_ids(self) -> list[int]:
        return list(self.nodes)


def identity() -> None:
    """The ServerApp's task identity, which Flower sets before a ServerApp builds messages."""
    TaskIdentity.run_id = RUN_ID
    TaskIdentity.node_id = 1
    TaskIdentity.task_id = 1


def rows(n: int, d: int = 16, seed: int = 0) -> Any:
    return np.random.default_rng(seed).normal(size=(n, d))


def strategy(rule: str, f: int, n: int, **kw: Any) -> SecureRobustStrategy:
    kw.setdefault("rng", opt.DeterministicRandomSource(0))
    return SecureRobustStrategy(rule, f=f, min_train_nodes=n, min_available_nodes=n, **kw)


def instructions(
    s: SecureRobustStrategy, n: int, server_round: int = 1, model: ArrayRecord | None = None
) -> list[Message]:
    identity()
    arrays = model if model is not None else TEMPLATE.unflatten(np.zeros(TEMPLATE.dim))
    grid = Grid([FIRST_NODE + i for i in range(n)])
    return list(s.configure_train(server_round, arrays, ConfigRecord(), grid))  # type: ignore[arg-type]


def context(message: Message) -> Context:
    node = message.metadata.dst_node_id
    return Context(
        run_id=RUN_ID,
        node_id=node,
        node_config={"partition-id": node - FIRST_NODE},
        state=RecordDict(),
        run_config={},
    )


def client_replies(
    messages: list[Message],
    x: Any,
    edit: Callable[[int, Message, Message], Message | None] | None = None,
    template: Template = TEMPLATE,
) -> list[Message]:
    """Each node ``i`` (partition ``i``) replies ``x[i]`` through the client piece, in reverse
    order (the strategy orders rows itself); ``edit(i, reply, instruction)`` may replace or drop
    a reply."""
    out = []
    for m in sorted(messages, key=lambda m: -m.metadata.dst_node_id):
        i = m.metadata.dst_node_id - FIRST_NODE
        r: Message | None = reply(
            m,
            context(m),
            template.unflatten(x[i]),
            num_examples=1,
            rng=opt.DeterministicRandomSource(i),
        )
        if edit is not None and r is not None:
            r = edit(i, r, m)
        if r is not None:
            out.append(r)
    return out


def error_reply(instruction: Message, reason: str = "boom") -> Message:
    """An error reply to ``instruction`` (as Flower delivers a ClientApp's exception)."""
    return Message(Error(code=0, reason=reason), reply_to=instruction)


def answer(instruction: Message, content: RecordDict) -> Message:
    """A reply to ``instruction`` with ``content``, not built by the client piece."""
    return Message(content, reply_to=instruction)
