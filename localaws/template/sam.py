"""The SAM transform: a ``sam package`` pre-pass, then aws-sam-translator, the library SAM CLI itself uses.

The pre-pass does what ``sam package`` does before CloudFormation runs the transform: a local ``CodeUri``
folder is zipped (deterministically) and replaced by the S3 URI it is uploaded to, and a local
``DefinitionUri`` ASL file is inlined as ``Definition`` (its ``DefinitionSubstitutions`` stay, and the state
machine creator applies them). aws-sam-translator then expands every ``AWS::Serverless::*`` resource, the
``Globals`` and the SAM policy templates into plain CloudFormation; the resource creators make that.

Nothing is uploaded here until :func:`upload_artifacts` is called, so a template that cannot be deployed
is refused before anything exists.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.public.exceptions import (
    InvalidDocumentException,
    InvalidEventException,
    InvalidResourceException,
)
from samtranslator.public.parser import Parser
from samtranslator.public.translator import Translator

from .context import ACCOUNT_ID
from .errors import SamTranslationError, TemplateError, UnsupportedPropertyError
from .zips import zip_directory

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
SAM_TYPES = frozenset(
    {"AWS::Serverless::Function", "AWS::Serverless::StateMachine", "AWS::Serverless::SimpleTable"}
)
"""SAM types whose translation the creators can make (Api, HttpApi, LayerVersion... translate to types or
properties they cannot: OpenAPI bodies, API Gateway v2, layers)."""
ACCEPTED_TRANSFORMS = frozenset({SAM_TRANSFORM, "AWS::LanguageExtensions"})

_LOCAL_PATH_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}
_GLOBALS_SECTIONS = {"AWS::Serverless::Function": "Function", "AWS::Serverless::StateMachine": "StateMachine"}


@dataclass(frozen=True)
class Artifact:
    """A packaged code zip: uploaded to ``s3://bucket/key`` before the resources are created."""

    bucket: str
    key: str
    body: bytes


class StaticManagedPolicyLoader:
    """AWS managed policy name -> ARN, the way ``samtranslator``'s ``ManagedPolicyLoader`` answers, without
    an IAM call: the local IAM lists no AWS managed policies. The translator asks it only for names its own
    bundled map does not know; a name nobody knows is passed on as written, and refused before anything is
    created (see ``resources.check_creatable``).
    """

    def __init__(self, policies: Mapping[str, str]) -> None:
        self._policies = dict(policies)

    def load(self) -> dict[str, str]:
        return dict(self._policies)


MANAGED_POLICIES = StaticManagedPolicyLoader(
    {
        name: f"arn:aws:iam::aws:policy/{path}{name}"
        for path, name in (
            ("service-role/", "AWSLambdaBasicExecutionRole"),
            ("service-role/", "AWSLambdaVPCAccessExecutionRole"),
            ("service-role/", "AWSLambdaRole"),
            ("", "AWSXrayWriteOnlyAccess"),
            ("", "AWSXRayDaemonWriteAccess"),
            ("", "CloudWatchLambdaInsightsExecutionRolePolicy"),
        )
    }
)


def uses_sam(template: Mapping[str, Any]) -> bool:
    """Whether the template declares the SAM transform (and so must go through the translator)."""
    return SAM_TRANSFORM in transforms_of(template)


def transforms_of(template: Mapping[str, Any]) -> list[str]:
    transforms = template.get("Transform")
    return [transforms] if isinstance(transforms, str) else list(transforms or [])


def check_transforms(template: Mapping[str, Any]) -> None:
    resources: Mapping[str, Any] = template["Resources"]
    has_sam_resources = any(
        str((spec or {}).get("Type", "")).startswith("AWS::Serverless::") for spec in resources.values()
    )
    if has_sam_resources and not uses_sam(template):
        raise TemplateError(f"AWS::Serverless::* resources need 'Transform: {SAM_TRANSFORM}'")
    other = [t for t in transforms_of(template) if t not in ACCEPTED_TRANSFORMS]
    if other:
        raise TemplateError(f"transforms not supported locally: {other}")


def check_sam_resources(template: Mapping[str, Any]) -> None:
    """Refuse, with the resource named, SAM properties whose translation needs what is not here."""
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    sources: list[tuple[str, Mapping[str, Any]]] = [("Globals.Function", function_globals)]
    sources += [
        (logical, spec.get("Properties") or {})
        for logical, spec in template["Resources"].items()
        if (spec or {}).get("Type") == "AWS::Serverless::Function"
    ]
    for where, props in sources:
        if "DeploymentPreference" in props:
            raise UnsupportedPropertyError(
                where, "DeploymentPreference", "CodeDeploy is not available locally"
            )
        if props.get("PackageType") == "Image" or "ImageUri" in props:
            raise UnsupportedPropertyError(where, "PackageType", "container images need Docker")


def package(
    template: Mapping[str, Any], base_dir: Path, bucket: str
) -> tuple[dict[str, Any], list[Artifact]]:
    """A copy of ``template`` with local ``CodeUri`` / ``DefinitionUri`` paths replaced as ``sam package``
    does, plus the zips to upload. Each folder is zipped once; its key is the zip's SHA-256."""
    packaged = copy.deepcopy(dict(template))
    zips: dict[Path, Artifact] = {}

    def package_properties(where: str, rtype: str, props: dict[str, Any]) -> None:
        prop = _LOCAL_PATH_PROPERTIES[rtype]
        value = props.get(prop)
        if not isinstance(value, str) or value.startswith("s3://"):
            return  # absent, an S3 location already, or an intrinsic: the translator decides
        path = (base_dir / value).resolve()
        if not path.exists():
            raise UnsupportedPropertyError(where, prop, f"{path} does not exist")
        if prop == "DefinitionUri":
            del props[prop]
            props["Definition"] = _read_definition(where, path)
            return
        if path not in zips:
            body = zip_directory(path) if path.is_dir() else path.read_bytes()
            zips[path] = Artifact(bucket, f"{hashlib.sha256(body).hexdigest()}.zip", body)
        props[prop] = f"s3://{bucket}/{zips[path].key}"

    for rtype, section in _GLOBALS_SECTIONS.items():
        global_props = (packaged.get("Globals") or {}).get(section)
        if isinstance(global_props, dict):
            package_properties(f"Globals.{section}", rtype, global_props)
    for logical, spec in packaged["Resources"].items():
        resource_type = str((spec or {}).get("Type"))
        if resource_type in _LOCAL_PATH_PROPERTIES and isinstance(spec.get("Properties"), dict):
            package_properties(logical, resource_type, spec["Properties"])
    return packaged, list(zips.values())


def _read_definition(where: str, path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UnsupportedPropertyError(where, "DefinitionUri", f"not JSON or YAML: {exc}") from exc


_TRANSLATE_LOCK = threading.Lock()  # the translator keeps its region and metrics in class attributes


def translate(
    template: Mapping[str, Any], parameter_values: Mapping[str, Any], region: str
) -> dict[str, Any]:
    """The CloudFormation template aws-sam-translator makes of a packaged SAM template.

    ``samtranslator.translator.transform.transform`` would do the same but takes the region from the
    environment; the public ``Translator`` is given it through a boto3 session (no call is made).
    """
    session = boto3.session.Session(region_name=region)
    try:
        with _TRANSLATE_LOCK:
            translator = Translator(None, Parser(), boto_session=session)
            processed: dict[str, Any] = translator.translate(
                copy.deepcopy(dict(template)),
                parameter_values=dict(parameter_values),
                get_managed_policy_map=MANAGED_POLICIES.load,
            )
    except InvalidDocumentException as exc:
        raise SamTranslationError(cause.message for cause in exc.causes) from exc
    except (InvalidResourceException, InvalidEventException) as exc:
        raise SamTranslationError([exc.message]) from exc
    return processed


def package_bucket(region: str) -> str:
    """The bucket packaged code goes to, like the bucket ``sam deploy --resolve-s3`` manages."""
    return f"localaws-sam-packages-{ACCOUNT_ID}-{region}"


def upload_artifacts(s3: Any, region: str, artifacts: Iterable[Artifact]) -> None:
    created: set[str] = set()
    for artifact in artifacts:
        if artifact.bucket not in created:
            kwargs: dict[str, Any] = {"Bucket": artifact.bucket}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):  # another stack packaged first
                s3.create_bucket(**kwargs)
            created.add(artifact.bucket)
        s3.put_object(Bucket=artifact.bucket, Key=artifact.key, Body=artifact.body)
