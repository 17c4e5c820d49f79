"""AWS::ApiGateway::RestApi, Resource, Method (with integration), Deployment and Stage (REST APIs only)."""

from __future__ import annotations

from typing import Any

from ..context import Creator, DeployContext, as_bool, as_int, tags_map
from ..errors import UnsupportedPropertyError
from ..intrinsics import Created

REFUSED_REST_API_PROPERTIES = ("Body", "BodyS3Location", "CloneFrom")
"""OpenAPI import is not modelled; these are refused before anything of the stack is created."""

_INTEGRATION_KEYS = {
    "Credentials": "credentials", "RequestTemplates": "requestTemplates",
    "PassthroughBehavior": "passthroughBehavior", "ContentHandling": "contentHandling",
    "RequestParameters": "requestParameters", "CacheNamespace": "cacheNamespace",
    "ConnectionType": "connectionType",
}  # fmt: skip
_INTEGRATION_RESPONSE_KEYS = {
    "SelectionPattern": "selectionPattern", "ResponseTemplates": "responseTemplates",
    "ResponseParameters": "responseParameters", "ContentHandling": "contentHandling",
}  # fmt: skip


def create_rest_api(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    for key in REFUSED_REST_API_PROPERTIES:
        if key in p:
            raise UnsupportedPropertyError(logical, key, "OpenAPI import is not supported locally")
    apigw = ctx.client("apigateway")
    kwargs: dict[str, Any] = {"name": p.get("Name") or logical}
    if "Description" in p:
        kwargs["description"] = p["Description"]
    if p.get("EndpointConfiguration"):
        kwargs["endpointConfiguration"] = {"types": p["EndpointConfiguration"].get("Types", ["EDGE"])}
    if p.get("BinaryMediaTypes"):
        kwargs["binaryMediaTypes"] = p["BinaryMediaTypes"]
    if p.get("Tags"):
        kwargs["tags"] = tags_map(p["Tags"])
    api_id = apigw.create_rest_api(**kwargs)["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    attrs = {"RootResourceId": root, "RestApiId": api_id}
    ctx.register(logical, "AWS::ApiGateway::RestApi", Created(ref=api_id, attrs=attrs))


def create_resource(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    resource_id = ctx.client("apigateway").create_resource(
        restApiId=p["RestApiId"], parentId=p["ParentId"], pathPart=p["PathPart"]
    )["id"]
    created = Created(ref=resource_id, attrs={"ResourceId": resource_id})
    ctx.register(logical, "AWS::ApiGateway::Resource", created)


def _method_responses(apigw: Any, target: dict[str, str], responses: list[dict[str, Any]]) -> None:
    for response in responses:
        kwargs: dict[str, Any] = {**target, "statusCode": str(response["StatusCode"])}
        if response.get("ResponseModels"):
            kwargs["responseModels"] = response["ResponseModels"]
        if response.get("ResponseParameters"):
            kwargs["responseParameters"] = {k: as_bool(v) for k, v in response["ResponseParameters"].items()}
        apigw.put_method_response(**kwargs)


def _integration(apigw: Any, logical: str, target: dict[str, str], integration: dict[str, Any]) -> None:
    kwargs: dict[str, Any] = {**target, "type": integration["Type"]}
    if "Uri" in integration:
        kwargs["uri"] = integration["Uri"]
    if integration.get("IntegrationHttpMethod"):
        kwargs["integrationHttpMethod"] = integration["IntegrationHttpMethod"]
    for cfn_key, api_key in _INTEGRATION_KEYS.items():
        if integration.get(cfn_key) is not None:
            kwargs[api_key] = integration[cfn_key]
    if "TimeoutInMillis" in integration:
        kwargs["timeoutInMillis"] = as_int(integration["TimeoutInMillis"], logical, "TimeoutInMillis")
    apigw.put_integration(**kwargs)
    for response in integration.get("IntegrationResponses") or []:
        response_kwargs: dict[str, Any] = {**target, "statusCode": str(response["StatusCode"])}
        for cfn_key, api_key in _INTEGRATION_RESPONSE_KEYS.items():
            if response.get(cfn_key) is not None:
                response_kwargs[api_key] = response[cfn_key]
        apigw.put_integration_response(**response_kwargs)


def create_method(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    apigw = ctx.client("apigateway")
    method = str(p["HttpMethod"]).upper()
    target = {"restApiId": p["RestApiId"], "resourceId": p["ResourceId"], "httpMethod": method}
    kwargs: dict[str, Any] = {**target, "authorizationType": p.get("AuthorizationType", "NONE")}
    if "ApiKeyRequired" in p:
        kwargs["apiKeyRequired"] = as_bool(p["ApiKeyRequired"])
    if p.get("RequestParameters"):
        kwargs["requestParameters"] = {k: as_bool(v) for k, v in p["RequestParameters"].items()}
    if p.get("OperationName"):
        kwargs["operationName"] = p["OperationName"]
    if p.get("AuthorizerId"):
        kwargs["authorizerId"] = p["AuthorizerId"]
    apigw.put_method(**kwargs)
    _method_responses(apigw, target, p.get("MethodResponses") or [])
    if p.get("Integration"):
        _integration(apigw, logical, target, p["Integration"])
    ref = f"{p['RestApiId']}/{p['ResourceId']}/{method}"
    ctx.register(logical, "AWS::ApiGateway::Method", Created(ref=ref))


def create_deployment(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    kwargs: dict[str, Any] = {"restApiId": p["RestApiId"]}
    if p.get("Description"):
        kwargs["description"] = p["Description"]
    if p.get("StageName"):
        kwargs["stageName"] = p["StageName"]
        stage_description = p.get("StageDescription") or {}
        if stage_description.get("Variables"):
            kwargs["variables"] = {k: str(v) for k, v in stage_description["Variables"].items()}
    deployment_id = ctx.client("apigateway").create_deployment(**kwargs)["id"]
    created = Created(ref=deployment_id, attrs={"DeploymentId": deployment_id})
    ctx.register(logical, "AWS::ApiGateway::Deployment", created)


def create_stage(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    kwargs: dict[str, Any] = {
        "restApiId": p["RestApiId"],
        "stageName": p["StageName"],
        "deploymentId": p["DeploymentId"],
    }
    if p.get("Description"):
        kwargs["description"] = p["Description"]
    if p.get("Variables"):
        kwargs["variables"] = {k: str(v) for k, v in p["Variables"].items()}
    if "TracingEnabled" in p:
        kwargs["tracingEnabled"] = as_bool(p["TracingEnabled"])
    if p.get("Tags"):
        kwargs["tags"] = tags_map(p["Tags"])
    if p.get("MethodSettings") or p.get("AccessLogSetting"):
        ctx.note(f"{logical}: MethodSettings / AccessLogSetting not applied locally")
    ctx.client("apigateway").create_stage(**kwargs)
    ctx.register(logical, "AWS::ApiGateway::Stage", Created(ref=str(p["StageName"])))


CREATORS: dict[str, Creator] = {
    "AWS::ApiGateway::RestApi": create_rest_api,
    "AWS::ApiGateway::Resource": create_resource,
    "AWS::ApiGateway::Method": create_method,
    "AWS::ApiGateway::Deployment": create_deployment,
    "AWS::ApiGateway::Stage": create_stage,
}
