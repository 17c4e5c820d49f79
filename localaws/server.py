"""LocalAws: moto in server mode, in a background thread, plus the glue that makes it behave.

One moto server serves every service on ``http://127.0.0.1:<port>``. Around it:

- Lambda invocations run the functions' real code in warm worker processes (``lambda_runtime``);
- Lambda versioning, updates and aliases behave like AWS (``_patches_lambda``);
- Step Functions executes the real ASL with scalable waits (``_patches_sfn``);
- EventBridge delivers to Step Functions and Lambda targets and refuses ``aws.`` sources from callers
  (``_patches_events``); S3 sends one notification per request (``_patches_s3``);
- bucket and event bus policies are evaluated for the caller that the request's credentials name
  (``_identity``, ``_resource_policies``);
- DynamoDB requests are isolated from each other (``_patches_dynamodb``);
- every invocation records Lambda's CloudWatch metrics; metric queries match dimensions exactly and
  alarms are evaluated from the data when they are read (``_lambda_metrics``, ``_patches_cloudwatch``);
- a WSGI middleware records every API call and answers injected faults (``_wsgi``);
- API Gateway stages are served on the same port, at ``/restapis/<api>/<stage>/_user_request_/``
  (``apigateway``);
- Lambda function URLs are kept per qualifier (``_patches_lambda_url``) and served on the same port, at
  ``/lambda-url/<url-id>/``, with IAM (SigV4) authentication (``function_urls``);
- moto's host-to-service lookup is done once per host instead of once per request (``_Dispatcher``).

Only one LocalAws runs per process at a time because moto's backends are process-global.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from . import (
    _context,
    _identity,
    _patches_cloudwatch,
    _patches_dynamodb,
    _patches_events,
    _patches_lambda,
    _patches_lambda_url,
    _patches_s3,
    _patches_sfn,
)
from ._wsgi import EVENTS_APP_ID, SERVICE_APP_ID, ApiMiddleware, StageRouter
from .apigateway import ApiGateway
from .faults import FaultInjector
from .function_urls import FunctionUrlEndpoint, FunctionUrlRouter
from .lambda_runtime import LambdaRuntime, remove_work_dir
from .recording import ApiCallRecorder, InvocationRecorder

LOG = logging.getLogger(__name__)
DUMMY_KEY = "testing"  # the local AWS accepts any credentials
#: Threads of the local AWS's own machinery; their calls are made as an AWS service (``SERVICE_APP_ID``).
SERVICE_THREAD_PREFIX = "localaws-"


class _QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            LOG.debug(message, *args)


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves a host.

    moto works it out on every request, under one lock that every request takes: it lists its own
    package directory (a ``stat`` per service) and then tries each service's URL patterns, about
    1.5 ms per request. The answer depends on the host alone, so it is worked out once per host.
    """

    _MAX_HOSTS = 1024

    def __init__(self, create_app: Any) -> None:
        super().__init__(create_app)
        self._backend_of_host: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host in self._backend_of_host:  # called with self.lock held
            return self._backend_of_host[host]
        backend = super().get_backend_for_host(host)
        if len(self._backend_of_host) >= self._MAX_HOSTS:
            self._backend_of_host.clear()
        self._backend_of_host[host] = backend
        return backend


class LocalAws:
    """The embedded local AWS. ``with LocalAws(wait_scale=0.01) as aws: ...``

    ``wait_scale`` multiplies every Step Functions Wait state and Retry interval, and the time a
    Lambda code/configuration update stays InProgress (``update_seconds``, 2 s by default).
    It can be changed while running.
    """

    def __init__(
        self,
        region: str = "us-east-1",
        wait_scale: float = 1.0,
        port: int = 0,
        *,
        update_seconds: float = 2.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.region = region
        self.wait_scale = float(wait_scale)
        self.update_seconds = float(update_seconds)
        self.faults = FaultInjector()
        self.api_calls = ApiCallRecorder()
        self.invocations = InvocationRecorder()
        self._requested_port = port
        self._host = host
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._runtime: LambdaRuntime | None = None
        self._work_dir: Path | None = None
        self._events_pool: ThreadPoolExecutor | None = None
        self._apigw: ApiGateway | None = None
        self._session_lock = threading.Lock()
        self._session: Any = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> LocalAws:
        if self._server is not None:
            return self
        _context.activate(self)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        _identity.install()
        _patches_lambda.install()
        _patches_lambda_url.install()
        _patches_sfn.install()
        _patches_events.install()
        _patches_s3.install()
        _patches_dynamodb.install()
        _patches_cloudwatch.install()
        # The ASL engine logs every failed execution as an ERROR with its parse tree; the failure is already
        # in the execution's history, where Step Functions users look for it.
        logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(logging.CRITICAL)
        self._work_dir = Path(tempfile.mkdtemp(prefix="localaws-"))
        self._events_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="localaws-events")
        # The runtime needs the endpoint, which needs the server's port: bind first, serve later.
        runtime_box: list[LambdaRuntime] = []
        stages = StageRouter(
            ApiMiddleware(
                _Dispatcher(create_backend_app),
                self.api_calls,
                self.faults,
                lambda app_id: runtime_box[0].resolve_app_id(app_id) if runtime_box else None,
            )
        )
        app = FunctionUrlRouter(stages)
        self._server = make_server(
            self._host, self._requested_port, app, threaded=True, request_handler=_QuietRequestHandler
        )
        self._apigw = stages.gateway = ApiGateway(self.endpoint_url, self.region)
        app.endpoint = FunctionUrlEndpoint(self.endpoint_url, self.region)
        self._runtime = LambdaRuntime(self.endpoint_url, self.region, self._work_dir)
        runtime_box.append(self._runtime)
        self._runtime.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="localaws-moto",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the server and every Lambda worker; undo the patches."""
        self._apigw = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._events_pool is not None:
            self._events_pool.shutdown(wait=False, cancel_futures=True)
        if self._runtime is not None:
            self._runtime.stop()
        if self._work_dir is not None:
            remove_work_dir(self._work_dir)
        if _context.running() is self:
            _patches_cloudwatch.uninstall()
            _patches_dynamodb.uninstall()
            _patches_s3.uninstall()
            _patches_events.uninstall()
            _patches_sfn.uninstall()
            _patches_lambda_url.uninstall()
            _patches_lambda.uninstall()
            _identity.uninstall()
        _context.deactivate(self)
        self._server = self._thread = self._runtime = self._work_dir = self._events_pool = None

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- access ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalAws is not started")
        return int(self._server.server_port)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def now(self) -> float:
        """The simulated time, as functions read it with ``time.time()``: it starts at the real time and
        runs ``1 / wait_scale`` times faster. Lambda metrics and alarm evaluations are stamped with it."""
        return self.runtime.clock.now(self.wait_scale)

    @property
    def runtime(self) -> LambdaRuntime:
        if self._runtime is None:
            raise RuntimeError("LocalAws is not started")
        return self._runtime

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A boto3 client on the local endpoint (dummy credentials, standard retries).

        On the local AWS's own threads (named ``localaws-...``) the client calls as an AWS service
        would, so that it may, for example, put events with an ``aws.`` source.
        """
        with self._session_lock:
            if self._session is None:
                self._session = boto3.session.Session(
                    aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=self.region
                )
            config = Config(retries={"mode": "standard", "total_max_attempts": 3})
            if threading.current_thread().name.startswith(SERVICE_THREAD_PREFIX):
                config = config.merge(Config(user_agent_appid=SERVICE_APP_ID))  # type: ignore[call-arg]
            if "config" in kwargs:
                config = config.merge(kwargs.pop("config"))
            return self._session.client(service_name, endpoint_url=self.endpoint_url, config=config, **kwargs)

    def stage_url(self, rest_api_id: str, stage: str) -> str:
        """Base URL of an API Gateway stage, on the local AWS's own port.

        ``http://127.0.0.1:<port>/restapis/<api-id>/<stage>/_user_request_`` stands in for
        ``https://<api-id>.execute-api.<region>.amazonaws.com/<stage>``: append the resource path.
        """
        if self._apigw is None:
            raise RuntimeError("LocalAws is not started")
        return self._apigw.stage_url(rest_api_id, stage)

    def deploy_template(
        self, path: str | Path, parameters: Mapping[str, str] | None = None, stack_name: str = "promoter"
    ) -> Any:
        """Deploy a SAM template into this local AWS (see ``localaws.template``)."""
        from . import template

        target: Any = self
        return template.deploy_template(target, path, parameters, stack_name)

    # -- EventBridge delivery -------------------------------------------------------------------
    def deliver_event_target(self, target_arn: str, payload: str, rule_name: str) -> None:
        """Start an execution / invoke a function for a matched rule, asynchronously like AWS."""
        pool = self._events_pool
        if pool is None:
            return
        with contextlib.suppress(RuntimeError):  # shutting down
            pool.submit(self._deliver, target_arn, payload, rule_name)

    def _deliver(self, target_arn: str, payload: str, rule_name: str) -> None:
        config = Config(  # type: ignore[call-arg]  # the stubs predate user_agent_appid
            user_agent_appid=EVENTS_APP_ID, retries={"mode": "standard", "total_max_attempts": 3}
        )
        try:
            if target_arn.split(":")[2] == "states":
                self.client("stepfunctions", config=config).start_execution(
                    stateMachineArn=target_arn, input=payload
                )
            else:
                self.client("lambda", config=config).invoke(
                    FunctionName=target_arn, InvocationType="Event", Payload=payload.encode("utf-8")
                )
        except Exception as exc:  # AWS would retry and then drop the event; a warning is enough here
            LOG.warning("EventBridge rule %s could not deliver to %s: %s", rule_name, target_arn, exc)
