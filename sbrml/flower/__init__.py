"""sbrml on Flower (issue 17): secure robust aggregation as a Flower strategy (Message API).

It needs the ``flower`` extra (``pip install 'sbrml[flower]'``: Flower 1.42 with its Ray
simulation engine). The server side is ``SecureRobustStrategy`` (``sbrml.flower.strategy``),
the client side ``reply`` (``sbrml.flower.client``); ``sbrml.flower.app`` is the runnable
example's training (``examples/flower``). In mode ``two-server`` the clients share their
updates and seal each share to its server's key; the two servers and the dealer run beside the
ServerApp (``SimulatedServers``): a simulation of the trust model, not a deployment.
"""

from sbrml.extras import require

require("flower", "sbrml.flower")

from sbrml.flower.adversary import OmniscientAdversary, byzantine_reply  # noqa: E402
from sbrml.flower.client import reply, seal_update  # noqa: E402
from sbrml.flower.evaluation import EvaluationRecord, RobustEvaluation  # noqa: E402
from sbrml.flower.records import Template  # noqa: E402
from sbrml.flower.servers import SimulatedServers  # noqa: E402
from sbrml.flower.strategy import MODES, RoundRecord, SecureRobustStrategy  # noqa: E402

__all__ = [
    "MODES",
    "EvaluationRecord",
    "OmniscientAdversary",
    "RobustEvaluation",
    "RoundRecord",
    "SecureRobustStrategy",
    "SimulatedServers",
    "Template",
    "byzantine_reply",
    "reply",
    "seal_update",
]
