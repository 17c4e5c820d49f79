"""Build variants of the example app: deterministic bytes, and each variant behaves as documented."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from examples import builds
from examples.builds import VARIANTS, Edit, UnknownBuildError, build_zip
from examples.configs import UnfilledPlaceholderError, promotion_config
from localaws.apigateway import MalformedProxyResponseError, map_proxy_response
from localaws.template import zip_directory

pytestmark = pytest.mark.localaws

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = SimpleNamespace(function_version="7")


def load_handler(zip_bytes: bytes) -> Any:
    """The lambda_handler of a build, executed from the zip's own app.py (no import caching)."""
    source = zipfile.ZipFile(io.BytesIO(zip_bytes)).read("app.py").decode()
    namespace: dict[str, Any] = {"__name__": "app"}
    exec(compile(source, "app.py", "exec"), namespace)
    return namespace["lambda_handler"]


def http_event(path: str = "/hello", name: str = "Ada") -> dict[str, Any]:
    return {"httpMethod": "GET", "path": path, "requestContext": {}, "queryStringParameters": {"name": name}}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_builds_are_deterministic(variant: str) -> None:
    first = build_zip("greeting", variant)
    assert build_zip("greeting", variant) == first
    infos = zipfile.ZipFile(io.BytesIO(first)).infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_variants_differ_and_v1_is_what_the_template_deploys() -> None:
    zips = {variant: build_zip("greeting", variant) for variant in VARIANTS}
    assert len(set(zips.values())) == len(zips)
    assert zips["v1"] == zip_directory(ROOT / "examples" / "greeting" / "src")
    assert build_zip("greeting-envs", "v2") == zips["v2"]  # same code, one function per environment


@pytest.mark.parametrize("variant", ["v1", "v2", "v3"])
def test_good_builds_greet_and_show_their_build_id(variant: str) -> None:
    handler = load_handler(build_zip("greeting", variant))
    direct = handler({"action": "greet", "name": "Ada"}, CONTEXT)
    assert direct["statusCode"] == 200
    assert json.loads(direct["body"]) == {"message": "Hello, Ada", "build": variant, "version": "7"}
    status, _, body = map_proxy_response(json.dumps(handler(http_event(), CONTEXT)).encode())
    assert status == 200
    assert json.loads(body)["build"] == variant
    assert handler({"action": "dance"}, CONTEXT)["statusCode"] == 400


def test_fails_tests_greets_wrongly() -> None:
    handler = load_handler(build_zip("greeting", "fails-tests"))
    body = json.loads(handler({"action": "greet", "name": "Ada"}, CONTEXT)["body"])
    assert body["message"] != "Hello, Ada"
    assert body["build"] == "fails-tests"


def test_broken_endpoint_passes_direct_invokes_but_not_api_gateway() -> None:
    handler = load_handler(build_zip("greeting", "broken-endpoint"))
    direct = handler({"action": "greet", "name": "Ada"}, CONTEXT)
    assert json.loads(direct["body"])["message"] == "Hello, Ada"
    with pytest.raises(MalformedProxyResponseError, match="body must be a string"):
        map_proxy_response(json.dumps(handler(http_event(), CONTEXT)).encode())


def test_fails_real_users_greets_the_checks_but_raises_for_user_traffic() -> None:
    handler = load_handler(build_zip("greeting", "fails-real-users"))
    direct = handler({"action": "greet", "name": "ci"}, CONTEXT)
    assert json.loads(direct["body"])["message"] == "Hello, ci"
    with pytest.raises(RuntimeError, match="no greeting for real users"):
        handler({"action": "greet", "name": "user-7"}, CONTEXT)


def test_unknown_names_and_stale_edits_fail_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnknownBuildError, match="unknown variant 'v9'"):
        build_zip("greeting", "v9")
    with pytest.raises(UnknownBuildError, match="unknown app 'nope'"):
        build_zip("nope", "v1")
    monkeypatch.setitem(VARIANTS, "stale", (Edit("app.py", "text that is not there", "x"),))
    with pytest.raises(UnknownBuildError, match=r"exactly once in app\.py, found 0"):
        build_zip("greeting", "stale")


def test_cli_writes_the_same_bytes(tmp_path: Path) -> None:
    out = tmp_path / "v3.zip"
    assert builds.main(["greeting", "v3", "-o", str(out)]) == 0
    assert out.read_bytes() == build_zip("greeting", "v3")


def test_promotion_configs_fill_in_stage_urls() -> None:
    local = {stage: f"http://127.0.0.1:5/abc/{stage}" for stage in ("dev", "stage", "prod")}
    config = promotion_config("greeting", local)
    assert [(env["name"], env["checks"][0]["url"]) for env in config["environments"]] == [
        (stage, f"http://127.0.0.1:5/abc/{stage}/hello?name=ci") for stage in ("dev", "stage", "prod")
    ]
    assert config["environments"][1]["tests"] == {"function_name": "greeting-api-tests"}
    apis = {"dev": "d1", "stage": "s1", "prod": "p1"}
    envs = promotion_config(
        "greeting-envs",
        {stage: f"https://{api}.execute-api.eu-west-1.amazonaws.com/{stage}" for stage, api in apis.items()},
    )
    assert [(env["name"], env["function_name"], env["checks"][0]["url"]) for env in envs["environments"]] == [
        (
            stage,
            f"greeting-envs-{stage}",
            f"https://{api}.execute-api.eu-west-1.amazonaws.com/{stage}/hello?name=ci",
        )
        for stage, api in apis.items()
    ]
    for env in envs["environments"]:
        assert env["tests"]["events"][0]["payload"] == {"action": "greet", "name": "ci"}
    with pytest.raises(UnfilledPlaceholderError, match="dev check URL"):
        promotion_config("greeting-envs", {"stage": local["stage"], "prod": local["prod"]})
