"""The ``lambda-promoter`` console script: arguments, the command to run, and its exit code.

Exit codes (see :class:`~promoter.cli.output.ExitCode`): 0 succeeded; 1 failed and rolled back (or the
request was refused); 2 bad input or usage, nothing started; 3 roll back incomplete, locks kept; 4 gave up
waiting.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from promoter import __version__
from promoter.cli.output import CommandError, ExitCode, Output
from promoter.cli.stack import STACK_VARIABLE, Context
from promoter.exceptions import InvalidConfig, InvalidRequest, PromotionError, TransientAwsError

Command = Callable[[Context, Output, argparse.Namespace], ExitCode]
EPILOG = """exit codes: 0 succeeded | 1 failed, every alias put back (or the request was refused) |
2 bad input or usage, nothing started | 3 roll back incomplete, locks kept | 4 gave up waiting"""


def _common(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """The options every command takes, before or after its name (``default=SUPPRESS`` after it, so that
    an option given before the command is not overwritten)."""

    def value(default: object) -> object:
        return default if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("stack and output")
    group.add_argument("--stack", default=value(None), help=f"the stack's name (default: ${STACK_VARIABLE})")
    group.add_argument(
        "--state-machine-arn", default=value(None), help="instead of (or over) the stack's outputs"
    )
    group.add_argument("--table", default=value(None), help="the promotions table's name")
    group.add_argument("--bucket", default=value(None), help="the artifact bucket's name")
    group.add_argument("--operator-url", default=value(None), help="the operator URL (output OperatorUrl)")
    group.add_argument("--region", default=value(None))
    group.add_argument("--profile", default=value(None))
    group.add_argument("--output", choices=["text", "json"], default=value("text"))


def _waiting(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=None, help="give up waiting after this many seconds (exit 4)"
    )
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between two reads of the history")


def build_parser() -> argparse.ArgumentParser:
    from promoter.cli import approve, promote, status, unlock, versions, watch

    parser = argparse.ArgumentParser(
        prog="lambda-promoter", description="Operate a lambda-promoter stack.", epilog=EPILOG
    )
    parser.add_argument("--version", action="version", version=f"lambda-promoter {__version__}")
    _common(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Command, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text, epilog=EPILOG)
        _common(sub, defaults=False)
        sub.set_defaults(run=run)
        return sub

    sub = command("promote", promote.promote, "upload a zip (or name an S3 object version) and promote it")
    sub.add_argument("app")
    sub.add_argument("source", help="a local .zip, or s3://bucket/key[?versionId=...]")
    sub.add_argument("--reason")
    sub.add_argument(
        "--hotfix", metavar="FROM_ENVIRONMENT", help="start at this environment (needs --reason)"
    )
    sub.add_argument("--skip-bakes", action="store_true", help="a hotfix moving every alias at once")
    sub.add_argument(
        "--allow-older", action="store_true", help="promote a build older than the last environment's"
    )
    sub.add_argument("--request-id", help="promote a build already promoted, again")
    sub.add_argument("--name", help="the uploaded object's name (default: the zip's file name)")
    sub.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    sub.add_argument("--wait", action="store_true", help="follow the execution until it ends")
    _waiting(sub)

    sub = command("watch", watch.watch_command, "follow an execution state by state until it ends")
    sub.add_argument("execution", help="an execution's ARN or name")
    _waiting(sub)

    sub = command("status", status.status, "aliases, executions in flight, locks and approvals, per app")
    sub.add_argument("app", nargs="?")

    for name, run in (("approve", approve.approve), ("reject", approve.reject)):
        sub = command(name, run, f"{name} a waiting approval")
        sub.add_argument("execution", help="an execution's ARN or name")
        sub.add_argument("--environment", help="when several environments wait")
        sub.add_argument("--comment")

    sub = command("rollback", promote.rollback, "put one environment's alias back on an earlier version")
    sub.add_argument("app")
    sub.add_argument("environment")
    target = sub.add_mutually_exclusive_group()
    target.add_argument("--to", metavar="VERSION")
    target.add_argument(
        "--previous", action="store_true", help="the newest version older than the alias's (default)"
    )
    sub.add_argument("--reason")
    sub.add_argument("--dry-run", action="store_true")
    sub.add_argument("--wait", action="store_true")
    _waiting(sub)

    sub = command("history", status.history, "who promoted what, when, how it ended")
    sub.add_argument("app")
    sub.add_argument("--limit", type=int, default=20)

    sub = command("versions", versions.versions, "published versions, the aliases on them, their builds")
    sub.add_argument("app")

    sub = command("prune", versions.prune, "delete versions no alias routes to, beyond the newest N")
    sub.add_argument("app")
    sub.add_argument("--keep", type=int, required=True, metavar="N")
    sub.add_argument("--yes", action="store_true", help="delete (without it: a dry run)")

    sub = command(
        "unlock", unlock.unlock, "release locks kept by an incomplete roll back, once the aliases are back"
    )
    sub.add_argument("app")
    return parser


def problem_of(error: Exception) -> CommandError:
    """An error as the command reports it: the state machine's named errors keep their name and field."""
    if isinstance(error, CommandError):
        return error
    if isinstance(error, InvalidRequest | InvalidConfig):
        return CommandError(ExitCode.BAD_INPUT, type(error).__name__, str(error), error.field)
    if isinstance(error, PromotionError):
        return CommandError(ExitCode.BAD_INPUT, type(error).__name__, str(error))
    if isinstance(error, NoCredentialsError | NoRegionError):
        return CommandError(ExitCode.BAD_INPUT, type(error).__name__, str(error))
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "ClientError"))
        return CommandError(ExitCode.FAILED, code, str(error))
    return CommandError(ExitCode.FAILED, type(error).__name__, str(error))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Output(json_mode=args.output == "json")
    try:
        return int(args.run(Context(args), out, args))
    except (CommandError, PromotionError, ClientError, BotoCoreError, TransientAwsError) as error:
        problem = problem_of(error)
        out.error(problem)
        return int(problem.code)
    except KeyboardInterrupt:
        out.note("interrupted: the execution (if any) goes on; lambda-promoter watch follows it again")
        return int(ExitCode.GAVE_UP)


if __name__ == "__main__":
    sys.exit(main())
