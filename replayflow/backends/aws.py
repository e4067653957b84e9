"""The AWS client factory and error translation, shared by every AWS service replayflow calls.

SWF (the backend) and S3 (jumbo fields) get their clients here, so both honour the same settings:
the standard AWS configuration, REPLAYFLOW_CONNECTION_RETRIES, finite endpoint timeouts, and a
bound on retrying an endpoint that cannot be reached. Their errors become one line a user can act
on (`translate_error`).

Endpoint and credentials come from the standard AWS configuration (botocore >= 1.31 resolves
AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SWF, AWS_ENDPOINT_URL_S3 and profile `endpoint_url` natively;
verified with botocore 1.44.8), so nothing here reads those variables itself.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from typing import Any

import boto3
import botocore.exceptions as bexc
from botocore.config import Config
from botocore.parsers import ResponseParserError

from ..errors import (
    ConfigurationError,
    ConnectionFailed,
    CredentialsMissing,
    EndpointUnreachable,
    ExecutionNotFound,
    ReplayflowError,
    ServiceUnavailable,
    UnknownDomain,
    UserError,
)

#: Long polls hold the connection up to 60 s; the socket must wait longer than that.
READ_TIMEOUT = 75
CONNECT_TIMEOUT = 10
#: Every other call is answered in well under a second; a socket silent for this long belongs
#: to an endpoint that accepts connections and never answers (a hung proxy, a stopped server).
CALL_READ_TIMEOUT = 5
CALL_CONNECT_TIMEOUT = 3
#: Retries of a call that could not reach the endpoint stop once another attempt could end
#: past this many seconds: an unresponsive endpoint is reported in about this time, not after
#: every attempt's full timeout (5 attempts of 75 s used to take 376 s, saying nothing).
UNREACHABLE_AFTER = 12.0
DEFAULT_CONNECTION_RETRIES = 5
RETRIES_ENV = "REPLAYFLOW_CONNECTION_RETRIES"
#: S3 streams payloads: within a large GET, or before answering a multipart PUT's part, its
#: socket may stay silent longer than an SWF call's.
S3_READ_TIMEOUT = 15
#: A dead or hung S3 endpoint is reported after two silent reads (about half a minute).
S3_UNREACHABLE_AFTER = 2 * S3_READ_TIMEOUT
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "RequestLimitExceeded", "TooManyRequestsException"}
)
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
    }
)


# --------------------------------------------------------------------------------------------
# clients
# --------------------------------------------------------------------------------------------


def connection_retries() -> int:
    """Total attempts per call, from REPLAYFLOW_CONNECTION_RETRIES (default 5)."""
    raw = os.environ.get(RETRIES_ENV, "").strip()
    if not raw:
        return DEFAULT_CONNECTION_RETRIES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigurationError(
            f"{RETRIES_ENV}={raw!r} is not a positive integer; e.g. set it to 5"
        )
    return value


def client_config(*, poll: bool = False, **overrides: Any) -> Config:
    """Timeouts and retries: short for calls, longer than a long poll for polls.

    AWS_RETRY_MODE=adaptive is honoured.
    """
    mode = os.environ.get("AWS_RETRY_MODE", "standard")
    if mode not in ("standard", "adaptive"):
        mode = "standard"
    settings: dict[str, Any] = {
        "read_timeout": READ_TIMEOUT if poll else CALL_READ_TIMEOUT,
        "connect_timeout": CONNECT_TIMEOUT if poll else CALL_CONNECT_TIMEOUT,
        "retries": {"mode": mode, "total_max_attempts": connection_retries()},
        "max_pool_connections": 20,
    }
    settings.update(overrides)
    return Config(**settings)


def resolve_region(session: boto3.Session) -> str:
    """The configured region, or a ConfigurationError saying how to set one (no silent default)."""
    region = session.region_name or os.environ.get("AWS_REGION")
    if not region:
        raise ConfigurationError(
            "No AWS region configured: set AWS_DEFAULT_REGION (e.g. export "
            "AWS_DEFAULT_REGION=us-east-1) or `region` in your AWS profile"
        )
    return region


def make_client(
    service: str,
    *,
    session: boto3.Session | None = None,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    config: Config | None = None,
    region_required: bool = True,
) -> Any:
    """A boto3 client configured from the standard AWS settings plus our timeouts and retries.

    `endpoint_url` overrides AWS_ENDPOINT_URL(_<SERVICE>) only when given; otherwise botocore
    resolves it from the environment and profile. With `region_required=False` and no region
    configured, botocore picks its default (an S3 client works so; an SWF client would not).
    """
    try:
        if session is None:
            session = boto3.Session(profile_name=profile)
        if not region:
            region = (resolve_region(session) if region_required
                      else session.region_name or os.environ.get("AWS_REGION"))
        return session.client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            config=config or client_config(),
        )
    except bexc.ProfileNotFound as exc:
        raise ConfigurationError(
            f"AWS profile not found: {exc.kwargs.get('profile')!r}; check AWS_PROFILE "
            "or ~/.aws/config"
        ) from None
    except bexc.NoRegionError:
        raise ConfigurationError(
            "No AWS region configured: set AWS_DEFAULT_REGION (e.g. export "
            "AWS_DEFAULT_REGION=us-east-1)"
        ) from None


def swf_client(*, poll: bool = False, **kwargs: Any) -> Any:
    """An SWF client (honours AWS_ENDPOINT_URL_SWF / AWS_ENDPOINT_URL).

    `poll=True`: for long polls (a read timeout longer than SWF's 60 s). Otherwise short
    timeouts, and retries bounded by UNREACHABLE_AFTER when the endpoint cannot be reached.
    """
    kwargs.setdefault("config", client_config(poll=poll))
    client = make_client("swf", **kwargs)
    if not poll:
        bound_unreachable_retries(client)
    return client


def s3_client(**kwargs: Any) -> Any:
    """An S3 client (honours AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) for jumbo fields.

    The call timeouts, with a read timeout long enough for a payload's stream
    (S3_READ_TIMEOUT), REPLAYFLOW_CONNECTION_RETRIES attempts, and retries of an unreachable
    endpoint bounded by S3_UNREACHABLE_AFTER. No region configured: botocore's default.
    """
    kwargs.setdefault("config", client_config(read_timeout=S3_READ_TIMEOUT))
    kwargs.setdefault("region_required", False)
    client = make_client("s3", **kwargs)
    bound_unreachable_retries(client, budget=S3_UNREACHABLE_AFTER)
    return client


#: What botocore raises when the endpoint could not be reached or did not answer in time.
UNREACHABLE_ERRORS = (bexc.ConnectionError, bexc.HTTPClientError)


def bound_unreachable_retries(client: Any, budget: float = UNREACHABLE_AFTER) -> None:
    """Stop botocore's retries of an unreachable endpoint once another try could end past
    `budget` seconds after the first one began.

    Throttling and 5xx answers keep the full retry schedule: the endpoint is there, just busy.
    Connection errors and timeouts are retried only within the budget, so a dead or hung
    endpoint is reported in about `budget` seconds. (Hooks on botocore's documented
    `before-call` and `needs-retry` events; raising from the latter ends the retries.)
    """
    service = client.meta.service_model.service_id.hyphenize()
    config = client.meta.config
    # One attempt at an endpoint that never answers ends at one of the two timeouts.
    attempt_bound = max(config.connect_timeout or 0, config.read_timeout or 0)

    def stamp(context: dict[str, Any], **_: Any) -> None:
        context.setdefault("replayflow_first_try", time.monotonic())

    def stop_when_out_of_time(caught_exception: BaseException | None = None,
                              request_dict: Mapping[str, Any] | None = None,
                              **_: Any) -> None:
        if not isinstance(caught_exception, UNREACHABLE_ERRORS):
            return
        first = ((request_dict or {}).get("context") or {}).get("replayflow_first_try")
        if first is not None and time.monotonic() - first + attempt_bound > budget:
            raise caught_exception

    client.meta.events.register(f"before-call.{service}", stamp)
    client.meta.events.register_first(f"needs-retry.{service}", stop_when_out_of_time)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def _endpoint_hint(endpoint: str | None, service: str, silent: bool = False) -> str:
    where = endpoint or "the AWS endpoint"
    why = " (it accepts connections but does not answer)" if silent else ""
    return (
        f"Cannot reach {where}{why}: check AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_{service.upper()} "
        f"and AWS_DEFAULT_REGION, and that the endpoint is up"
    )


def translate_error(
    exc: Exception,
    *,
    endpoint: str | None = None,
    domain: str | None = None,
    workflow_id: str | None = None,
    run_id: str | None = None,
    service: str = "swf",
) -> Exception:
    """Map a botocore exception to the replayflow error a user can act on (or return it as is)."""
    if isinstance(exc, bexc.NoCredentialsError | bexc.PartialCredentialsError):
        return CredentialsMissing(
            "No AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or AWS_PROFILE"
        )
    if isinstance(exc, bexc.NoRegionError):
        return ConfigurationError("No AWS region configured: set AWS_DEFAULT_REGION")
    if isinstance(exc, bexc.ConnectionError | bexc.HTTPClientError):
        endpoint = endpoint or getattr(exc, "kwargs", {}).get("endpoint_url")
        silent = isinstance(exc, bexc.ReadTimeoutError)
        return EndpointUnreachable(_endpoint_hint(endpoint, service, silent))
    if isinstance(exc, ResponseParserError):
        # A 200 whose body is not the service's JSON: cut short, or a proxy's page. Transient.
        detail = (str(exc).splitlines() or [""])[0][:200]
        return ServiceUnavailable(
            f"{service.upper()} response from {endpoint or 'the endpoint'} could not be parsed: "
            f"{detail}")
    if not isinstance(exc, bexc.ClientError):
        return exc

    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")).strip()
    operation = exc.operation_name
    if code in CREDENTIAL_CODES:
        return ConnectionFailed(
            f"AWS rejected our credentials ({code}) at {endpoint or 'the endpoint'}: check "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE"
        )
    if code in ("AccessDeniedException", "AccessDenied"):
        return UserError(f"AWS denied {operation}: {message}; check the IAM permissions")
    if code in ("UnknownResourceFault", "DomainDeprecatedFault"):
        match = re.match(r"unknown (domain|execution|type)\b", message.lower())
        kind = match.group(1) if match else None
        if kind == "domain" or code == "DomainDeprecatedFault":
            name = domain or message.rpartition(":")[2].strip() or "?"
            state = "deprecated" if code == "DomainDeprecatedFault" else "not registered"
            return UnknownDomain(
                f"SWF domain {name!r} is {state}: register it with "
                f"`replayflow domain.register {name}` (or pick another --domain)"
            )
        if kind == "execution":
            target = f"workflow id {workflow_id!r}" if workflow_id else "the workflow execution"
            if run_id:
                target += f" (run {run_id})"
            where = f" in domain {domain!r}" if domain else ""
            return ExecutionNotFound(
                f"No execution found for {target}{where}: check the id, or that it is still "
                "within the domain's retention period"
            )
        if kind == "type":
            return UserError(
                f"{message}{f' in domain {domain!r}' if domain else ''}: register the type first "
                "(starting a workflow through replayflow does it)"
            )
        return UserError(f"SWF {operation}: {message or code}")
    if code == "WorkflowExecutionAlreadyStartedFault":
        return UserError(
            f"Workflow id {workflow_id!r} already has an open execution"
            f"{f' in domain {domain!r}' if domain else ''}: use another workflow id, or wait "
            "for it to close"
        )
    if code in ("ValidationException", "SerializationException"):
        return UserError(f"SWF rejected {operation}: {message or code}")
    # Anything else (5xx after retries, limits, ...): one line, original kept as __cause__.
    detail = message.splitlines()[0] if message else ""
    if detail.lstrip().startswith("<"):
        detail = ""  # an HTML error page
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if not code or code.isdigit():
        what = f"HTTP {status or code} from {endpoint or 'the endpoint'}"
    else:
        what = code
    text = f"{service.upper()} {operation} failed: {what}"
    transient = (isinstance(status, int) and status >= 500) or code in THROTTLING_CODES
    return (ServiceUnavailable if transient else ReplayflowError)(
        f"{text}: {detail}" if detail else text)


def is_throttling(exc: BaseException) -> bool:
    """True for the error codes AWS uses to say "slow down"."""
    return isinstance(exc, bexc.ClientError) and (
        exc.response.get("Error", {}).get("Code") in THROTTLING_CODES
    )


__all__ = [
    "CALL_CONNECT_TIMEOUT",
    "CALL_READ_TIMEOUT",
    "CONNECT_TIMEOUT",
    "DEFAULT_CONNECTION_RETRIES",
    "READ_TIMEOUT",
    "RETRIES_ENV",
    "S3_READ_TIMEOUT",
    "S3_UNREACHABLE_AFTER",
    "THROTTLING_CODES",
    "UNREACHABLE_AFTER",
    "UNREACHABLE_ERRORS",
    "bound_unreachable_retries",
    "client_config",
    "connection_retries",
    "is_throttling",
    "make_client",
    "resolve_region",
    "s3_client",
    "swf_client",
    "translate_error",
]
