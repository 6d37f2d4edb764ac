"""A local stand-in for Telesign's omnichannel API (`campaign simulate`, the sandbox, the tests).

create_app(SimulatorConfig(...)) -> Simulator   # an ASGI app; serve it with runner.serving
"""

from runner.simulator.app import ConnectionDropped, Simulator, create_app
from runner.simulator.config import DEMO_CREDENTIALS, SimulatorConfig
from runner.simulator.journal import AcceptedRequest, CallbackAttempt, read_journal_file

__all__ = [
    "AcceptedRequest",
    "CallbackAttempt",
    "ConnectionDropped",
    "DEMO_CREDENTIALS",
    "Simulator",
    "SimulatorConfig",
    "create_app",
    "read_journal_file",
]
