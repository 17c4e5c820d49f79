"""What every task handler shares: Powertools objects and turning the task input into a model."""

from __future__ import annotations

from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel, ValidationError

from promoter.exceptions import InvalidRequest
from promoter.models import describe_validation_error

logger = Logger()
tracer = Tracer()
metrics = Metrics()

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], event: Any) -> M:
    """Validate the task input; a bad input is the caller's fault, named by field, never retried.

    The ASL passes each task its state's name (``$$.State.Name``), so every log line says which state ran.
    """
    if isinstance(event, dict) and isinstance(event.get("state"), str):
        logger.append_keys(state=event["state"])
    try:
        return model.model_validate(event)
    except ValidationError as error:
        raise InvalidRequest(*describe_validation_error(error)) from error
