"""`make demo`: real promotions through the real state machine and task code on the embedded local AWS.

Each scenario (demo/scenarios.py) announces what must happen, runs, then checks it from the outside. The
process exits 1 if any outcome differs from its announcement.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from demo.harness import Sandbox
from demo.scenarios import Demo
from localaws import LocalAws

SERVE_USAGE = """\
lambda-promoter is deployed on the local AWS at {endpoint} (region {region}, waits x{scale}).

From another shell (dummy credentials; no AWS account is used):

    export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={region}
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing

Upload a build (starts a promotion):
    .venv/bin/python -m examples.builds greeting v2 -o /tmp/v2.zip
    aws s3 cp /tmp/v2.zip s3://{bucket}/artifacts/greeting/v2.zip

Or upload under releases/ and request it by event or by hand:
    aws s3 cp /tmp/v2.zip s3://{bucket}/releases/greeting/v2.zip
    aws events put-events --entries '{entries}'
    aws stepfunctions start-execution --state-machine-arn {state_machine} \\
        --input '{{"app": "greeting", "artifact": {{"key": "releases/greeting/v2.zip"}}}}'

Or with the command line (the stack is in CloudFormation: describe-stacks --stack-name lambda-promoter):
    export LAMBDA_PROMOTER_STACK=lambda-promoter
    .venv/bin/lambda-promoter promote greeting /tmp/v2.zip --hotfix prod --reason "try it" --wait
    .venv/bin/lambda-promoter status greeting

Watch:
    aws stepfunctions list-executions --state-machine-arn {state_machine}
    aws stepfunctions get-execution-history --execution-arn <arn>
    aws lambda get-alias --function-name greeting-api --name PROD
    curl "{prod_url}/hello?name=you"

API Gateway stages, on the same port (on AWS: https://<api-id>.execute-api.{region}.amazonaws.com/<stage>):
    greeting       dev   {dev_url}
                   stage {stage_url}
                   prod  {prod_url}
    greeting-envs  dev   {envs_dev_url}
                   stage {envs_stage_url}
                   prod  {envs_prod_url}
Press Ctrl-C to stop.
"""


def serve(args: argparse.Namespace) -> int:
    """Keep the local AWS running with the orchestrator and the examples deployed, for a person to drive."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalAws(wait_scale=args.wait_scale, port=args.port) as aws:
        box = Sandbox(aws)
        print(
            SERVE_USAGE.format(
                endpoint=aws.endpoint_url,
                region=aws.region,
                scale=args.wait_scale,
                bucket=box.bucket,
                entries=json.dumps(
                    [
                        {
                            "Source": "lambda-promoter",
                            "DetailType": "Promotion Requested",
                            "EventBusName": box.request_bus,
                            "Detail": json.dumps(
                                {"app": "greeting", "artifact": {"key": "releases/greeting/v2.zip"}}
                            ),
                        }
                    ]
                ),
                state_machine=box.state_machine_arn,
                dev_url=box.urls["greeting"]["dev"],
                stage_url=box.urls["greeting"]["stage"],
                prod_url=box.urls["greeting"]["prod"],
                envs_dev_url=box.urls["greeting-envs"]["dev"],
                envs_stage_url=box.urls["greeting-envs"]["stage"],
                envs_prod_url=box.urls["greeting-envs"]["prod"],
            ),
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    print("Stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["run", "serve"], default="run")
    parser.add_argument("--wait-scale", type=float, default=None, help="multiplies Wait and Retry delays")
    parser.add_argument("--port", type=int, default=4566, help="serve: port of the local AWS (0: any free)")
    parser.add_argument("--no-color", action="store_true")
    parser.add_argument(
        "--only", type=lambda text: {int(n) for n in text.split(",")}, help="scenario numbers, e.g. 19,20"
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        args.wait_scale = 1.0 if args.wait_scale is None else args.wait_scale
        return serve(args)
    wait_scale = 0.05 if args.wait_scale is None else args.wait_scale
    color = sys.stdout.isatty() and not args.no_color
    started = time.monotonic()
    print("lambda-promoter demo: real promotions on an embedded local AWS (no AWS account, no Docker)")
    with LocalAws(wait_scale=wait_scale) as aws:
        print(f"  local AWS at {aws.endpoint_url}; Wait states and Retry delays x{wait_scale}")
        print("  deploying template.yaml (lambda-promoter), examples/greeting and examples/greeting-envs ...")
        sandbox = Sandbox(aws)
        print(f"  deployed in {time.monotonic() - started:.1f}s: state machine {sandbox.state_machine_arn}")
        code = Demo(sandbox, color, args.only).run()
    print(f"  total {time.monotonic() - started:.1f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
