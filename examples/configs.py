"""The example apps' promotion configs with their placeholders filled in.

``examples/<app>/promotion.json`` is written for a real deployment: check URLs look like
``https://<api-id>.execute-api.<region>.amazonaws.com/stage/hello?name=ci``. Once the example stack is
deployed (for real or on the local AWS), :func:`promotion_config` swaps each environment's
``https://<...>.execute-api.<region>.amazonaws.com/<stage>`` prefix for that environment's actual stage URL,
e.g. ``https://abc123.execute-api.eu-west-1.amazonaws.com/stage`` or, locally,
``http://127.0.0.1:<port>/<api-id>/stage``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent

_PLACEHOLDER_URL = re.compile(r"^https://<[^>]+>\.execute-api\.<region>\.amazonaws\.com/(?P<stage>[^/?]+)")


class UnfilledPlaceholderError(ValueError):
    """A check URL still has a ``<placeholder>`` after filling (wrong stage name or unknown layout)."""


def promotion_config(app: str, stage_urls: dict[str, str]) -> dict[str, Any]:
    """``examples/<app>/promotion.json`` with each check URL pointing at its API Gateway stage.

    ``stage_urls`` maps a stage name (the path segment after the host in the placeholder URL, e.g. ``prod``)
    to that stage's base URL (no trailing slash), like the template outputs or
    ``LocalAws.stage_url(api_id, stage)``; each environment's checks may use a different API.
    """
    config: dict[str, Any] = json.loads((EXAMPLES_DIR / app / "promotion.json").read_text())
    for env in config["environments"]:
        for check in env.get("checks", []):
            match = _PLACEHOLDER_URL.match(check["url"])
            base = stage_urls.get(match.group("stage")) if match else None
            if base is not None:
                check["url"] = _PLACEHOLDER_URL.sub(base.rstrip("/"), check["url"])
            if "<" in check["url"]:
                raise UnfilledPlaceholderError(
                    f"{app}: {env['name']} check URL still has a placeholder: {check['url']}"
                )
    return config
