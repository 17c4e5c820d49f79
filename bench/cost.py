"""Public AWS prices and the cost of 1,000 promotions derived from measured counts and durations.

The prices are constants, written here with their region and the date they were recorded, and printed
beside every cost. Free tiers are ignored. Not priced: DynamoDB, S3, EventBridge events, CloudWatch Logs
and X-Ray (the task functions have ``Tracing: Active``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

#: Region the prices below apply to.
PRICE_REGION = "us-east-1"
#: When the prices below were recorded (from the AWS pricing pages, as quoted in the benchmark issue).
PRICES_AS_OF = "2026-11-22"
#: Step Functions Standard workflows: USD per state transition ($0.025 per 1,000).
SFN_PRICE_PER_TRANSITION = 0.025 / 1_000
#: Lambda requests: USD per request ($0.20 per 1M).
LAMBDA_PRICE_PER_REQUEST = 0.20 / 1_000_000
#: Lambda duration, arm64: USD per GB-second.
LAMBDA_ARM64_PRICE_PER_GB_SECOND = 0.0000133334
#: How many promotions the cost table prices.
PROMOTIONS = 1_000

PRICE_SOURCES = (
    "https://aws.amazon.com/step-functions/pricing/",
    "https://aws.amazon.com/lambda/pricing/",
)


def gb_seconds(durations_and_memory: Iterable[tuple[float, int]]) -> float:
    """GB-seconds of invocations given as (duration in seconds, MemorySize in MB), each rounded up to
    the millisecond as Lambda bills it."""
    return sum(math.ceil(seconds * 1000) / 1000 * memory / 1024 for seconds, memory in durations_and_memory)


@dataclass(frozen=True)
class Cost:
    """USD for :data:`PROMOTIONS` promotions."""

    transitions: float
    requests: float
    duration: float

    @property
    def total(self) -> float:
        return self.transitions + self.requests + self.duration


def cost_of(transitions: float, invocations: float, gb_s: float, promotions: int = PROMOTIONS) -> Cost:
    """The cost of ``promotions`` promotions that each take these (median) amounts."""
    return Cost(
        transitions=promotions * transitions * SFN_PRICE_PER_TRANSITION,
        requests=promotions * invocations * LAMBDA_PRICE_PER_REQUEST,
        duration=promotions * gb_s * LAMBDA_ARM64_PRICE_PER_GB_SECOND,
    )
