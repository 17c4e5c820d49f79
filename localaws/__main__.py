"""``python -m localaws serve``: keep the embedded local AWS running for the CLI and boto3."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .server import LocalAws

USAGE = """\
Local AWS running at {endpoint} (region {region}, wait scale {scale}).

Use it from another shell with the AWS CLI or boto3 (dummy credentials; no AWS account is used):

    export AWS_ENDPOINT_URL={endpoint}
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={region}
    aws lambda list-functions
    aws stepfunctions list-state-machines

    python -c 'import boto3; print(boto3.client("s3").list_buckets())'

Press Ctrl-C to stop.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localaws", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the local AWS until interrupted")
    serve.add_argument("--port", type=int, default=4566, help="port to listen on (0: any free port)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--region", default="us-east-1")
    serve.add_argument(
        "--wait-scale", type=float, default=1.0, help="multiplier for Step Functions waits and retries"
    )
    return parser


def serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with LocalAws(region=args.region, wait_scale=args.wait_scale, port=args.port, host=args.host) as aws:
        sys.stdout.write(USAGE.format(endpoint=aws.endpoint_url, region=aws.region, scale=aws.wait_scale))
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    sys.stdout.write("Stopped.\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
