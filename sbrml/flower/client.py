"""The client's part of ``SecureRobustStrategy`` (issue 17): what a ClientApp returns.

A ClientApp trains as it likes and ends its train function with one line::

    return sbrml.flower.reply(message, context, update, num_examples=len(batch))

``reply`` reads the mode from the instruction (the entries the strategy added to its
ConfigRecord). In mode ``two-server`` the worker's update never leaves the client in the
clear: the client encodes it (P8.1 step 1a: C1.1, C1.2, C8.2 and the round's bound C8.13),
splits it into two additive shares over ``Z_2^64`` (P3.1) and seals share ``s`` to server
``S<s>``'s public key (``sbrml.flower.sealing``), so the SuperLink and the ServerApp relay two
ciphertexts, each of which only its server can open. An input the encoder refuses is not sent:
the reply says why (C0.1: the condition and clause, never the value) and the strategy excludes
the node, as the round excludes a worker that sends nothing (C8.3). In the other modes the
reply carries the update itself (``plaintext``: the rule runs in the clear; ``masks`` and
``paillier``: the ServerApp simulates every party of those protocols).
"""

from __future__ import annotations

from collections.abc import Mapping

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord
from numpy.typing import ArrayLike

from sbrml.core.errors import ParameterError, SpecError
from sbrml.core.randomness import RandomSource
from sbrml.flower.records import CONFIG_PREFIX, Template, update_record
from sbrml.flower.sealing import seal, share_context
from sbrml.optimized.randomness import SystemRandomSource
from sbrml.optimized.round import worker_messages

__all__ = ["REFUSED", "instruction_config", "reply", "seal_update"]

REFUSED = "refused"  # the entry of SHARES_KEY that carries a client's public reason
SERVERS = ("S0", "S1")


def instruction_config(message: Message) -> ConfigRecord:
    """The ConfigRecord to which the strategy added its ``sbrml-`` entries."""
    for record in message.content.config_records.values():
        if f"{CONFIG_PREFIX}mode" in record:
            return record
    raise ParameterError(
        "reply",
        "message",
        "a train instruction of SecureRobustStrategy (a ConfigRecord with 'sbrml-mode')",
        "D18.1",
        f"config records {list(message.content.config_records.keys())}",
    )


def seal_update(
    vector: ArrayLike,
    config: ConfigRecord,
    *,
    run_id: int,
    server_round: int,
    node_id: int,
    rng: RandomSource,
) -> ConfigRecord:
    """P8.1 step 1 at the client, then each share sealed to its server: ``{"S0": ..., "S1": ...}``.

    ``config`` is the instruction's ConfigRecord (``sbrml-frac-bits``, ``sbrml-bound-log2``,
    ``sbrml-key-S0``, ``sbrml-key-S1``). The shares come from ``rng.derive(f"{c}/shares")``,
    the ephemeral keys from ``rng.derive(f"{c}/seal/S0")`` and ``f"{c}/seal/S1"``, with ``c`` =
    ``run/<run_id>/round/<server_round>/node/<node_id>``: a source made afresh from one seed in
    every round (a stateless ClientApp) still never repeats a share mask, an ephemeral key or
    a nonce across rounds (C2.9). Raises the encoder's
    ``SpecError`` (C1.1, C1.2, C8.2, C8.13) for an input the round would refuse, before anything
    is sealed.
    """
    frac_bits = int(config[f"{CONFIG_PREFIX}frac-bits"])  # type: ignore[arg-type]
    bits = int(config[f"{CONFIG_PREFIX}bound-log2"])  # type: ignore[arg-type]
    context = f"run/{run_id}/round/{server_round}/node/{node_id}"
    messages = worker_messages(
        0, vector, rng=rng.derive(f"{context}/shares"), frac_bits=frac_bits, bound_log2=bits
    )
    out = ConfigRecord()
    for m in messages:
        public = config.get(f"{CONFIG_PREFIX}key-{m.receiver}")
        if not isinstance(public, bytes):
            raise ParameterError(
                "seal_update",
                "config",
                f"the public key of {m.receiver} as bytes ('{CONFIG_PREFIX}key-{m.receiver}')",
                "C8.3",
                type(public).__name__,
            )
        aad = share_context(run_id, server_round, node_id, m.receiver)
        key_rng = rng.derive(f"{context}/seal/{m.receiver}")
        out[m.receiver] = seal(bytes(m.payload), public, aad, rng=key_rng)
    return out


def reply(
    message: Message,
    context: Context,
    update: ArrayRecord,
    *,
    num_examples: int,
    metrics: Mapping[str, int | float] | None = None,
    rng: RandomSource | None = None,
) -> Message:
    """The train reply ``SecureRobustStrategy`` expects, for the mode of ``message``.

    ``update``: the client's update as an ArrayRecord of the global model's layout (float64 is
    aggregated exactly as sent; other float dtypes are converted). ``metrics`` are added to
    the reply's MetricRecord with ``num-examples`` and, when the node has one, its
    ``partition-id`` (for the logs only: the strategy orders the rows by node id, which the
    SuperLink sets, never by a field a client writes). ``rng``: the source of the shares
    and the ephemeral keys (default: a fresh ``SystemRandomSource``, C2.1).
    """
    config = instruction_config(message)
    record = MetricRecord({"num-examples": int(num_examples), **dict(metrics or {})})
    if "partition-id" in context.node_config:
        record["partition-id"] = int(context.node_config["partition-id"])
    if config[f"{CONFIG_PREFIX}mode"] != "two-server":
        return Message(update_record(update, None, record), reply_to=message)
    template = Template.of(update)  # a record that is no model is the caller's error: raised
    try:
        shares = seal_update(
            template.flatten(update, "reply"),
            config,
            run_id=message.metadata.run_id,
            server_round=int(config["server-round"]),  # type: ignore[arg-type]
            node_id=message.metadata.dst_node_id,
            rng=rng if rng is not None else SystemRandomSource(),
        )
    except SpecError as err:
        # An honest worker sends nothing it would not share (P8.1 step 1); it says why.
        shares = ConfigRecord({REFUSED: err.public_reason()})
    return Message(update_record(None, shares, record), reply_to=message)
