"""The embedded local AWS: moto in server mode plus the glue that makes the real ASL and the real
task code run on one machine, with no AWS account and no Docker. Never deployed to Lambda.

    from localaws import LocalAws

    with LocalAws(wait_scale=0.01) as aws:
        aws.client("lambda").list_functions()
"""

from .faults import FaultInjector
from .recording import ApiCall, ApiCallRecorder, Invocation, InvocationRecorder
from .server import LocalAws
from .traffic import TrafficGenerator

__all__ = [
    "ApiCall",
    "ApiCallRecorder",
    "FaultInjector",
    "Invocation",
    "InvocationRecorder",
    "LocalAws",
    "TrafficGenerator",
]
