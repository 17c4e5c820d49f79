"""Every error the state machine can catch by name.

The Lambda runtime reports an unhandled exception's class name as the error type, and the ASL matches
``ErrorEquals`` against it, so each class name here is part of the state machine's contract. Rename one
and the ASL must change with it (``make lint-asl`` checks that every name the ASL uses exists here).
"""

from __future__ import annotations


class PromotionError(Exception):
    """Base class: a promotion cannot go on. Not retried by the state machine."""


class InvalidRequest(PromotionError):
    """The trigger input is not a request this stack can act on. Raised before anything changes."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class InvalidConfig(PromotionError):
    """The app's promotion config is missing a field or has a bad value."""

    def __init__(self, app: str, field: str, reason: str) -> None:
        self.app = app
        self.field = field
        self.reason = reason
        super().__init__(f"config for app '{app}': {field}: {reason}")


class ConfigNotFound(PromotionError):
    """No promotion config is stored for the app."""


class ArtifactNotFound(PromotionError):
    """The S3 object (or the object version) to deploy does not exist."""


class TargetNotFound(PromotionError):
    """A target function, alias or test function named in the config does not exist."""


class TargetNotTagged(PromotionError):
    """A function the config names is not tagged ``lambda-promoter:app=<app>`` (stack RequireAppTag)."""


class CodeSigningRequired(PromotionError):
    """A function the build would be deployed to has no code signing config (stack RequireCodeSigning)."""


class OlderBuild(PromotionError):
    """The build is older than the one the route's last environment runs, and the request did not say
    ``allow_older`` with a reason."""


class DuplicateRequest(PromotionError):
    """This artifact is already being promoted, or was promoted, for this app (at-least-once delivery)."""


class Superseded(PromotionError):
    """A newer upload for the same app was already started: an older one queued behind it is skipped."""


class LockLost(PromotionError):
    """This execution's lock expired and another execution may be promoting the function now."""


class PromotionLocked(PromotionError):
    """Another execution holds the lock on a target function. The state machine retries with backoff."""


class CodeUpdateFailed(PromotionError):
    """Lambda reported LastUpdateStatus=Failed for the code update."""


class CodeUpdateTimedOut(PromotionError):
    """The code update stayed InProgress for longer than the configured number of polls."""


class CodeChangedConcurrently(PromotionError):
    """The function's code or configuration changed under this execution (CodeSha256/RevisionId guard)."""


class CodeMismatch(PromotionError):
    """The code deployed to a function is not byte-identical to the code that passed the tests."""


class TestsFailed(PromotionError):
    """The published version failed its tests (a failed case, a function error or a timeout)."""

    __test__ = False  # not a pytest test class


class EndpointCheckFailed(PromotionError):
    """An HTTP check against an API Gateway stage did not get the expected status, body or latency."""


class AliasChangedConcurrently(PromotionError):
    """An alias changed under this execution (RevisionId guard); it is left for a person to look at."""


class RollbackIncomplete(PromotionError):
    """At least one alias could not be put back as it was. Raised after every other alias was tried."""


class OutcomeNotAnnounced(Exception):
    """EventBridge refused the outcome event; the state machine retries the step that sends it."""


class TransientAwsError(Exception):
    """Throttling, a conflicting update in progress or an AWS service error.

    Retried with backoff in the ASL.
    """


class ConfigurationError(Exception):
    """The task function itself is misconfigured (an environment variable is missing or invalid)."""


class InvalidArtifact(PromotionError):
    """The artifact is not a valid deployment package: Lambda refused its bytes (not a zip, too large)."""


class CodeSigningRefused(PromotionError):
    """The function's code signing config refused the artifact (unsigned, bad signature, unknown config)."""


class LambdaQuotaExceeded(PromotionError):
    """A Lambda quota of the account is reached (total code storage, versions): someone must free room."""


class AliasUpdateRefused(PromotionError):
    """Lambda refused the alias's new target (the version is gone, or the versions cannot share routing)."""


class PermissionDenied(PromotionError):
    """This stack's role may not make a call the promotion needs (IAM, a resource policy, an SCP, KMS)."""


class UnexpectedAwsError(PromotionError):
    """AWS answered with an error this stack has no more specific name for; the cause names the call."""


class FunctionsDiffer(PromotionError):
    """The environments' functions differ in handler, runtime, architecture, layers or package type."""


class QueueFull(PromotionError):
    """As many executions of the app as the stack allows (MaxQueuedPromotionsPerApp) already wait for its
    locks. Raised before anything changed; not retried."""


class AliasAlreadyRouted(PromotionError):
    """The alias already sends part of its traffic to another version (someone else's canary): a weighted
    shift would take that routing over. Raised before the alias moves."""


class VersionNotPublished(PromotionError):
    """Weighted routing needs two published versions; the alias (or the new version) is on ``$LATEST``."""


class ExecutionRolesDiffer(PromotionError):
    """The alias's version and the new version run with different execution roles: Lambda refuses to
    route one alias to both."""


class DeadLetterConfigsDiffer(PromotionError):
    """The alias's version and the new version have different dead-letter configs: Lambda refuses to
    route one alias to both."""


class HealthGateFailed(PromotionError):
    """During a bake the new version's error rate or duration was above the gate's threshold, or a guard
    alarm was in ALARM or could not be read. The message names the environment, step, gate and figures."""


class TooLittleTraffic(PromotionError):
    """The new version got fewer invocations than the gate's minimum, even after every extension of the
    bake: too little traffic is inconclusive, never a pass (unless the config accepts it)."""


class ApprovalMissing(PromotionError):
    """An alias move that needs a person's approval found none decided APPROVED in the table (whatever
    woke the waiting execution). Raised before the alias moves."""


class ApprovalNotPending(PromotionError):
    """The operator URL was asked to decide an approval that is not waiting (decided, timed out, or never
    asked)."""


class NotAnApprover(PromotionError):
    """The caller, as IAM authenticated them, matches none of the environment's ``approval.approvers``."""


class SelfApprovalRefused(PromotionError):
    """The caller started this promotion and the config does not allow self-approval."""
