"""The boto3 side of Amazon SWF: clients, error translation, pagination, registration.

The decider, the worker and the CLI all talk to SWF through `SwfBackend`, so each of them gets the
same endpoint resolution, retries, full pagination and one-line errors without thinking about it.

Endpoint and credentials come from the standard AWS configuration (botocore >= 1.31 resolves
AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SWF, AWS_ENDPOINT_URL_S3 and profile `endpoint_url` natively;
verified with botocore 1.44.8), so nothing here reads those variables itself.

What we verified about moto 5.2.5 (moto_server over HTTP, probes against a live server):

- Empty polls return no taskToken (and no events) after a 1 s server-side sleep; there is no long
  poll. PollForDecisionTask and GetWorkflowExecutionHistory ignore maximumPageSize and never
  return a nextPageToken: the whole history comes in one page.
- PollForDecisionTask ignores startAtPreviousStartedEvent (full history every time), but it does
  fill previousStartedEventId correctly.
- RespondDecisionTaskCompleted accepts taskList + taskListScheduleToStartTimeout silently and
  ignores them: the next decision task is scheduled on the execution's original task list, and a
  poll on the "sticky" list finds nothing. (botocore 1.44.8's model has both parameters.)
- StartTimer with startToFireTimeout "0" is accepted. moto runs timers on threading.Timer, so a
  0 s timer fires on a background thread right away: its TimerFired (and a DecisionTaskScheduled)
  can be recorded *between* the events of the decision batch that started it (seen: TimerStarted,
  TimerFired, DecisionTaskScheduled, ActivityTaskScheduled). moto may also record two
  DecisionTaskScheduled in a row. Timer events are ordered by wall clock, not by decision.
- Reusing an activityId, even of a completed activity, is refused with a ScheduleActivityTaskFailed
  event, cause ACTIVITY_ID_ALREADY_IN_USE (the respond call itself succeeds) - hence one
  activityId per attempt (`<task_id>#<attempt>`).
- ScheduleActivityTask with no timeouts in the decision and none registered on the type fails
  (ScheduleActivityTaskFailed); `register_activity_type` below therefore registers "NONE" defaults.
- While a decision task is started and unanswered, no other decision task of that execution is
  handed out (polls are empty), as on SWF.
- Errors: unknown domain -> UnknownResourceFault "Unknown domain: D"; unknown execution ->
  UnknownResourceFault "Unknown execution: WorkflowExecution=[workflowId=.., runId=..]"
  (Terminate: "Unknown execution, workflowId = .."); unknown type -> "Unknown type: ..."; duplicate
  start -> WorkflowExecutionAlreadyStartedFault; duplicate registration -> DomainAlreadyExistsFault
  / TypeAlreadyExistsFault.
- RequestCancelWorkflowExecution is not implemented (HTTP 500). SignalWorkflowExecution works on an
  open execution and answers HTTP 500 (not UnknownResourceFault) for an unknown one.
- ListOpen/ListClosedWorkflowExecutions ignore startTimeFilter, typeFilter and executionFilter;
  tagFilter is applied but with a list-mutation bug that can keep non-matching executions;
  closeStatusFilter is compared wrongly (do not send it). maximumPageSize truncates the list
  WITHOUT a nextPageToken (so we never send it). typeFilter without a version is a 500.
- DescribeWorkflowExecution reports a fixed startTimestamp (2014-12-31T23:00:00.123Z); the list
  calls report the real one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NoReturn, TypedDict

import boto3
import botocore.exceptions as bexc
import msgspec
from botocore.config import Config
from botocore.parsers import ResponseParserError

from ..encoding import truncate_reason
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
from ..history import CLOSE_STATUS, gc_paused, stamps_to_datetimes
from .aws_json import DirectCaller, direct_caller
from .base import Duration, default_identity

log = logging.getLogger(__name__)

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
#: Extra rounds of our own (slower) backoff once botocore's retries gave up on throttling.
THROTTLE_ROUNDS = 3
THROTTLE_BASE_DELAY = 1.0
THROTTLE_MAX_DELAY = 30.0
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
#: A start-time filter wide enough for "any execution still within retention".
EPOCH = dt.datetime(1970, 1, 2, tzinfo=dt.UTC)


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
) -> Any:
    """A boto3 client configured from the standard AWS settings plus our timeouts and retries.

    `endpoint_url` overrides AWS_ENDPOINT_URL(_<SERVICE>) only when given; otherwise botocore
    resolves it from the environment and profile.
    """
    try:
        if session is None:
            session = boto3.Session(profile_name=profile)
        region = region or resolve_region(session)
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
    for operation in _HISTORY_OPERATIONS:
        client.meta.events.register(f"before-parse.swf.{operation}", _parse_history_response)
    if not poll:
        bound_unreachable_retries(client)
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


# Responses that carry event histories. botocore's generic parser walks every member of every
# event against the model (about 50 µs an event: 300 ms for a 6,000-event history, 20 times the
# cost of json.loads). Their only timestamp is `eventTimestamp`, so we parse them ourselves, with
# msgspec (twice as fast as json.loads on a history), and hand botocore an empty body. Timestamps
# stay epoch seconds here: the SwfBackend methods turn them into datetimes (boto3's shape).
#
# The decider asks for the engine's view instead (`for_engine=True`): epoch timestamps, and of
# each event's attributes only what the engine reads (engine.replay.attributes_read). A full
# replay is mostly parsing, and most of what it would parse is never read.
_HISTORY_OPERATIONS = ("PollForDecisionTask", "GetWorkflowExecutionHistory")
_decode_json = msgspec.json.Decoder().decode
_engine_view = threading.local()  # .on: this thread's current call is for the engine
_engine_decoders: dict[str, Callable[[bytes], Any]] = {}


@contextlib.contextmanager
def _for_engine(enabled: bool) -> Iterator[None]:
    previous = getattr(_engine_view, "on", False)
    _engine_view.on = enabled
    try:
        yield
    finally:
        _engine_view.on = previous


def _engine_decoder(operation_model: Any) -> Callable[[bytes], Any]:
    """A msgspec decoder of this operation's response that builds only what the engine reads."""
    decoder = _engine_decoders.get(operation_model.name)
    if decoder is not None:
        return decoder
    from ..engine.replay import attributes_read

    output = operation_model.output_shape
    event_fields: dict[str, Any] = {name: Any for name in output.members["events"].member.members
                                    if not name.endswith("EventAttributes")}
    for key, members in attributes_read().items():
        if members is None:
            event_fields[key] = dict
        elif members:
            event_fields[key] = TypedDict(  # type: ignore[operator]
                f"Engine_{key}", dict.fromkeys(members, Any), total=False)
    event = TypedDict("EngineEvent", event_fields, total=False)  # type: ignore[operator]
    response_fields: dict[str, Any] = dict.fromkeys(output.members, Any)
    response_fields["events"] = list[event]  # type: ignore[valid-type]
    response = TypedDict("EngineResponse", response_fields, total=False)  # type: ignore[operator]
    decoder = _engine_decoders[operation_model.name] = msgspec.json.Decoder(response).decode
    return decoder


def _decode_history(operation_model: Any, body: bytes) -> dict[str, Any] | None:
    """A history-carrying response (the engine's view if this thread asked for it); None if
    the body is not a JSON object."""
    with gc_paused():
        data = None
        if operation_model is not None and getattr(_engine_view, "on", False):
            with contextlib.suppress(msgspec.DecodeError):  # anything odd: the plain parse
                data = _engine_decoder(operation_model)(body)
        if data is None:
            try:
                data = _decode_json(body)
            except msgspec.DecodeError:
                return None
    return data if isinstance(data, dict) else None


def _parse_history_response(response_dict: dict, customized_response_dict: dict,
                            operation_model: Any = None, **_: Any) -> None:
    if response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not body:
        return
    data = _decode_history(operation_model, body)
    if data is None:
        return  # leave it to botocore, which reports malformed responses its own way
    customized_response_dict.update(data)
    response_dict["body"] = b"{}"


#: The calls made per decision and per activity task, made without botocore's request machinery
#: (aws_json.py) unless REPLAYFLOW_DIRECT_CALLS is off; and the decider's history fetches
#: (DIRECT_FOR_ENGINE: only in the engine's view). Every other call, the operators' and the
#: clients', goes through botocore: they are few. None of these sends or receives a timestamp
#: or a blob, the two types a plain JSON body would get wrong (histories keep SWF's epoch
#: seconds: see above); a test holds the lists to that.
DIRECT_OPERATIONS = frozenset({
    "PollForDecisionTask", "RespondDecisionTaskCompleted", "PollForActivityTask",
    "RespondActivityTaskCompleted", "RespondActivityTaskFailed", "RespondActivityTaskCanceled",
    "RecordActivityTaskHeartbeat",
})
DIRECT_FOR_ENGINE = frozenset({"GetWorkflowExecutionHistory"})
DIRECT_CALLS_ENV = "REPLAYFLOW_DIRECT_CALLS"


def direct_calls_enabled() -> bool:
    """REPLAYFLOW_DIRECT_CALLS: on unless 0, false, no or off."""
    raw = os.environ.get(DIRECT_CALLS_ENV, "").strip().lower()
    return raw not in ("0", "false", "no", "off")


def _parse_direct(operation_model: Any, body: bytes) -> dict[str, Any]:
    """A direct call's response, as botocore (with the history hook above) would give it."""
    if not body:
        return {}
    if operation_model.name in _HISTORY_OPERATIONS:
        data = _decode_history(operation_model, body)
    else:
        data = _decode_json(body)  # a malformed body: the caller raises ResponseParserError
    if not isinstance(data, dict):
        raise ResponseParserError(f"{operation_model.name}: not a JSON object")
    return data


def swf_direct_caller(client: Any) -> DirectCaller | None:
    """The direct caller for an SWF client's hot calls, or None (off, or not applicable)."""
    if not direct_calls_enabled():
        return None
    return direct_caller(client, parse=_parse_direct, max_attempts=connection_retries())


def s3_client(**kwargs: Any) -> Any:
    """An S3 client (honours AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), short timeouts for calls."""
    client = make_client("s3", **kwargs)
    bound_unreachable_retries(client)
    return client


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


@contextlib.contextmanager
def aws_errors(**context: Any) -> Iterator[None]:
    """Translate botocore errors raised inside the block (see translate_error for the keys)."""
    try:
        yield
    except (bexc.BotoCoreError, bexc.ClientError) as exc:
        translated = translate_error(exc, **context)
        if translated is exc:
            raise
        raise translated from exc


def is_throttling(exc: BaseException) -> bool:
    """True for the error codes AWS uses to say "slow down"."""
    return isinstance(exc, bexc.ClientError) and (
        exc.response.get("Error", {}).get("Code") in THROTTLING_CODES
    )


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def duration(value: Duration) -> str | None:
    """SWF durations are strings of seconds or "NONE"; accept ints too."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.upper() == "NONE":
            return "NONE"
        if not value.isdigit():
            raise UserError(f"Invalid SWF duration {value!r}: use a number of seconds or NONE")
        return value
    if isinstance(value, bool) or value < 0:
        raise UserError(f"Invalid SWF duration {value!r}: use a number of seconds or NONE")
    return str(int(value))


def _drop_none(**params: Any) -> dict[str, Any]:
    return {key: value for key, value in params.items() if value is not None}


def _strip_meta(response: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


# Per-process cache of registrations already done: (endpoint, domain, kind, name, version).
_registered: set[tuple[str, str, str, str, str]] = set()
_registered_lock = threading.Lock()


# --------------------------------------------------------------------------------------------
# the backend
# --------------------------------------------------------------------------------------------


class SwfBackend:
    """One SWF domain, seen through boto3: every call paginated, retried and error-translated."""

    def __init__(
        self,
        domain: str,
        *,
        client: Any = None,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.domain = domain
        self._client_options = {"profile": profile, "region": region,
                                "endpoint_url": endpoint_url}
        #: A client handed in is used as is, for every call (a test's Stubber sees them all).
        #: Our own: short timeouts for every call but the long polls (see CALL_READ_TIMEOUT),
        #: and a direct caller beside each client for the hot calls.
        self._direct: DirectCaller | None = None
        self._poll_direct: DirectCaller | None = None
        self._poll_client = client  # built on first poll when not given
        if client is None:
            client = swf_client(**self._client_options)
            self._direct = swf_direct_caller(client)
        self.client = client
        self._poll_client_lock = threading.Lock()
        self._api_names: dict[str, str] = getattr(
            getattr(client, "meta", None), "method_to_api_mapping", {})
        self._sleep = sleep

    @property
    def poll_client(self) -> Any:
        """The client of the long polls (a read timeout above SWF's 60 s), built on first use."""
        if self._poll_client is None:
            with self._poll_client_lock:  # pollers start together, on several threads
                if self._poll_client is None:
                    poll_client = swf_client(poll=True, **self._client_options)
                    if self._direct is not None:
                        self._poll_direct = swf_direct_caller(poll_client)
                    self._poll_client = poll_client
        return self._poll_client

    @property
    def endpoint_url(self) -> str:
        """The endpoint this backend talks to (as resolved by botocore)."""
        return str(self.client.meta.endpoint_url)

    def _call(self, operation: str, *, context: Mapping[str, Any] | None = None,
              poll: bool = False, **params: Any) -> dict[str, Any]:
        """One API call with translated errors and a last line of defence against throttling."""
        api_name = self._api_names.get(operation, "")
        client = self.poll_client if poll else self.client
        direct = self._poll_direct if poll else self._direct
        if direct is not None and (api_name in DIRECT_OPERATIONS or (
                api_name in DIRECT_FOR_ENGINE and getattr(_engine_view, "on", False))):
            caller = direct

            def method(**params: Any) -> dict[str, Any]:
                return caller.call(api_name, params)
        else:
            method = getattr(client, operation)
        delay = THROTTLE_BASE_DELAY
        round_ = 0
        while True:
            try:
                return method(**params)
            except bexc.ClientError as exc:
                if is_throttling(exc) and round_ < THROTTLE_ROUNDS:
                    # botocore already backed off and gave up: wait longer, then try again.
                    round_ += 1
                    pause = random.uniform(delay / 2, delay)
                    log.warning("SWF %s throttled; retrying in %.1f s", operation, pause)
                    self._sleep(pause)
                    delay = min(delay * 4, THROTTLE_MAX_DELAY)
                    continue
                self._raise_translated(exc, context)
            except bexc.BotoCoreError as exc:
                self._raise_translated(exc, context)

    def _raise_translated(self, exc: Exception, context: Mapping[str, Any] | None) -> NoReturn:
        ctx = {"endpoint": self.endpoint_url, "domain": self.domain, **(context or {})}
        translated = translate_error(exc, **ctx)
        if translated is exc:
            raise exc
        raise translated from exc

    # -- domain and types -------------------------------------------------------------------

    def register_domain(
        self, name: str | None = None, retention_days: int = 1, description: str | None = None
    ) -> bool:
        """Register a domain (default: ours); True if created, False if it already existed."""
        name = name or self.domain
        try:
            self._call(
                "register_domain",
                context={"domain": name},
                **_drop_none(
                    name=name,
                    workflowExecutionRetentionPeriodInDays=str(int(retention_days)),
                    description=description,
                ),
            )
        except ReplayflowError as exc:
            if _code(exc) == "DomainAlreadyExistsFault":
                return False
            raise
        return True

    def check_domain(self) -> dict[str, Any]:
        """Describe our domain; UnknownDomain (with the fix) if it is missing or deprecated."""
        response = self._call("describe_domain", name=self.domain)
        if response.get("domainInfo", {}).get("status") == "DEPRECATED":
            raise UnknownDomain(
                f"SWF domain {self.domain!r} is deprecated: register another one with "
                f"`replayflow domain.register NAME`"
            )
        return _strip_meta(response)

    def _register_once(self, kind: str, name: str, version: str, call: Callable[[], None]) -> bool:
        key = (self.endpoint_url, self.domain, kind, name, version)
        with _registered_lock:
            if key in _registered:
                return False
        created = True
        try:
            call()
        except ReplayflowError as exc:
            if _code(exc) != "TypeAlreadyExistsFault":
                raise
            created = False
        with _registered_lock:
            _registered.add(key)
        return created

    def register_workflow_type(
        self,
        name: str,
        version: str,
        task_list: str,
        execution_timeout: Duration,
        decision_task_timeout: Duration = 300,
        child_policy: str = "TERMINATE",
        description: str | None = None,
    ) -> bool:
        """Register a workflow type once per process; True only if this call created it."""

        def call() -> None:
            self._call(
                "register_workflow_type",
                **_drop_none(
                    domain=self.domain,
                    name=name,
                    version=version,
                    description=description,
                    defaultTaskList={"name": task_list},
                    defaultExecutionStartToCloseTimeout=duration(execution_timeout),
                    defaultTaskStartToCloseTimeout=duration(decision_task_timeout),
                    defaultChildPolicy=child_policy,
                ),
            )

        return self._register_once("workflow", name, version, call)

    def register_activity_type(
        self,
        name: str,
        version: str,
        task_list: str,
        *,
        schedule_to_start_timeout: Duration = "NONE",
        start_to_close_timeout: Duration = "NONE",
        schedule_to_close_timeout: Duration = "NONE",
        heartbeat_timeout: Duration = "NONE",
        description: str | None = None,
    ) -> bool:
        """Register an activity type once per process; True only if this call created it.

        Defaults are "NONE" (unlimited) so a decision that omits a timeout is still valid; the
        decider sets each activity's real timeouts on ScheduleActivityTask.
        """

        def call() -> None:
            self._call(
                "register_activity_type",
                **_drop_none(
                    domain=self.domain,
                    name=name,
                    version=version,
                    description=description,
                    defaultTaskList={"name": task_list},
                    defaultTaskScheduleToStartTimeout=duration(schedule_to_start_timeout),
                    defaultTaskStartToCloseTimeout=duration(start_to_close_timeout),
                    defaultTaskScheduleToCloseTimeout=duration(schedule_to_close_timeout),
                    defaultTaskHeartbeatTimeout=duration(heartbeat_timeout),
                ),
            )

        return self._register_once("activity", name, version, call)

    # -- executions ---------------------------------------------------------------------------

    def start_workflow_execution(
        self,
        workflow_id: str,
        name: str,
        version: str,
        *,
        input: str | None = None,
        task_list: str | None = None,
        execution_timeout: Duration = None,
        decision_task_timeout: Duration = None,
        child_policy: str | None = None,
        tags: Sequence[str] | None = None,
        priority: int | None = None,
    ) -> str:
        """Start an execution and return its runId (unset options use the type's defaults)."""
        response = self._call(
            "start_workflow_execution",
            context={"workflow_id": workflow_id},
            **_drop_none(
                domain=self.domain,
                workflowId=workflow_id,
                workflowType={"name": name, "version": version},
                input=input,
                taskList={"name": task_list} if task_list else None,
                executionStartToCloseTimeout=duration(execution_timeout),
                taskStartToCloseTimeout=duration(decision_task_timeout),
                childPolicy=child_policy,
                tagList=list(tags) if tags else None,
                taskPriority=str(priority) if priority is not None else None,
            ),
        )
        return str(response["runId"])

    def describe_workflow_execution(
        self, workflow_id: str, run_id: str | None = None
    ) -> dict[str, Any]:
        """DescribeWorkflowExecution of a run (default: the newest run of the workflow id)."""
        run_id = run_id or self.find_latest_run(workflow_id)["execution"]["runId"]
        response = self._call(
            "describe_workflow_execution",
            context={"workflow_id": workflow_id, "run_id": run_id},
            domain=self.domain,
            execution={"workflowId": workflow_id, "runId": run_id},
        )
        return _strip_meta(response)

    def close_event(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        """The run's close event, or None while it is open: one small reversed page on SWF."""
        response = self._call(
            "get_workflow_execution_history",
            context={"workflow_id": workflow_id, "run_id": run_id},
            domain=self.domain,
            execution={"workflowId": workflow_id, "runId": run_id},
            reverseOrder=True,
            maximumPageSize=1,
        )
        for event in response.get("events", []):
            if event["eventType"] in CLOSE_STATUS:
                stamps_to_datetimes([event])
                return event
        # A server that ignores reverseOrder (moto sends everything): look at the whole history.
        for event in reversed(self.get_workflow_execution_history(workflow_id, run_id)):
            if event["eventType"] in CLOSE_STATUS:
                return event
        return None

    def get_workflow_execution_history(
        self, workflow_id: str, run_id: str | None = None, *, reverse: bool = False,
        for_engine: bool = False,
    ) -> list[dict[str, Any]]:
        """Every event of a run (default: newest run), following nextPageToken to the end.

        `for_engine=True` gives the decider's view: `eventTimestamp` stays SWF's epoch seconds
        (the engine converts the one it reads), and each event keeps only the attributes the
        engine reads. Otherwise the events have boto3's shape.
        """
        run_id = run_id or self.find_latest_run(workflow_id)["execution"]["runId"]
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            with _for_engine(for_engine):
                response = self._call(
                    "get_workflow_execution_history",
                    context={"workflow_id": workflow_id, "run_id": run_id},
                    **_drop_none(
                        domain=self.domain,
                        execution={"workflowId": workflow_id, "runId": run_id},
                        nextPageToken=token,
                        reverseOrder=True if reverse else None,
                    ),
                )
            events.extend(response.get("events", []))
            token = response.get("nextPageToken")
            if not token:
                if not for_engine:
                    stamps_to_datetimes(events)
                return events

    def _list(self, operation: str, **params: Any) -> list[dict[str, Any]]:
        infos: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            # No maximumPageSize: moto truncates to it without returning a nextPageToken.
            response = self._call(operation, **_drop_none(nextPageToken=token, **params))
            infos.extend(response.get("executionInfos", []))
            token = response.get("nextPageToken")
            if not token:
                return infos

    def list_executions(
        self,
        status: str = "open",
        since: dt.datetime | None = None,
        type_name: str | None = None,
        tag: str | None = None,
        *,
        workflow_id: str | None = None,
        type_version: str | None = None,
    ) -> list[dict[str, Any]]:
        """Execution infos (open, closed or all), newest first, every filter also applied here.

        SWF accepts only one of the id/type/tag filters per call, and moto ignores most of them,
        so the narrowest one is sent and all of them are re-checked client-side.
        """
        if status not in ("open", "closed", "all"):
            raise UserError(f"Invalid status {status!r}: use open, closed or all")
        oldest = _as_utc(since) if since else EPOCH
        params: dict[str, Any] = {
            "domain": self.domain,
            "startTimeFilter": {"oldestDate": oldest},
        }
        if workflow_id:
            params["executionFilter"] = {"workflowId": workflow_id}
        elif tag:
            params["tagFilter"] = {"tag": tag}
        elif type_name and type_version:
            params["typeFilter"] = {"name": type_name, "version": type_version}
        infos: list[dict[str, Any]] = []
        if status in ("open", "all"):
            infos += self._list("list_open_workflow_executions", **params)
        if status in ("closed", "all"):
            infos += self._list("list_closed_workflow_executions", **params)

        def keep(info: Mapping[str, Any]) -> bool:
            if workflow_id and info["execution"]["workflowId"] != workflow_id:
                return False
            if type_name and info["workflowType"]["name"] != type_name:
                return False
            if type_version and info["workflowType"]["version"] != type_version:
                return False
            if tag and tag not in info.get("tagList", []):
                return False
            started = info.get("startTimestamp")
            return not (since and isinstance(started, dt.datetime) and _as_utc(started) < oldest)

        kept = [info for info in infos if keep(info)]
        kept.sort(key=_start_key, reverse=True)
        return kept

    def find_latest_run(self, workflow_id: str) -> dict[str, Any]:
        """The execution info of the newest run of `workflow_id`, open or closed."""
        runs = self.list_executions("all", workflow_id=workflow_id)
        if not runs:
            raise ExecutionNotFound(
                f"No execution found for workflow id {workflow_id!r} in domain {self.domain!r}: "
                "check the id, or that it is still within the domain's retention period"
            )
        return runs[0]

    def terminate(
        self,
        workflow_id: str,
        run_id: str | None = None,
        *,
        reason: str | None = None,
        details: str | None = None,
        child_policy: str | None = None,
    ) -> None:
        """Terminate an execution (no run id: the open run of that workflow id)."""
        self._call(
            "terminate_workflow_execution",
            context={"workflow_id": workflow_id, "run_id": run_id},
            **_drop_none(
                domain=self.domain,
                workflowId=workflow_id,
                runId=run_id,
                reason=truncate_reason(reason) if reason else None,
                details=details,
                childPolicy=child_policy,
            ),
        )

    def signal(
        self,
        workflow_id: str,
        signal_name: str,
        input: str | None = None,
        run_id: str | None = None,
    ) -> None:
        """Send a signal to an open execution."""
        self._call(
            "signal_workflow_execution",
            context={"workflow_id": workflow_id, "run_id": run_id},
            **_drop_none(
                domain=self.domain,
                workflowId=workflow_id,
                runId=run_id,
                signalName=signal_name,
                input=input,
            ),
        )

    def request_cancel(self, workflow_id: str, run_id: str | None = None) -> None:
        """Ask an open execution to cancel itself (its decider sees the request)."""
        self._call(
            "request_cancel_workflow_execution",
            context={"workflow_id": workflow_id, "run_id": run_id},
            **_drop_none(domain=self.domain, workflowId=workflow_id, runId=run_id),
        )

    # -- decision tasks -------------------------------------------------------------------------

    def poll_for_decision_task(
        self,
        task_list: str,
        identity: str | None = None,
        *,
        start_at_previous_started_event: bool = False,
        for_engine: bool = False,
    ) -> dict[str, Any] | None:
        """Long-poll a decision task; None when the poll came back empty.

        The returned dict has the boto3 shape (taskToken, startedEventId, previousStartedEventId,
        workflowExecution, workflowType, events) with every page's events merged and no
        nextPageToken. `for_engine=True` gives the decider's view of the events (see
        `get_workflow_execution_history`).
        """
        params = _drop_none(
            domain=self.domain,
            taskList={"name": task_list},
            identity=identity or default_identity(),
            startAtPreviousStartedEvent=True if start_at_previous_started_event else None,
        )
        with _for_engine(for_engine):
            task = _strip_meta(self._call("poll_for_decision_task", poll=True, **params))
        if not task.get("taskToken"):
            return None
        events = list(task.get("events", []))
        token = task.pop("nextPageToken", None)
        while token:
            with _for_engine(for_engine):
                page = self._call("poll_for_decision_task", poll=True, nextPageToken=token,
                                  **params)
            events.extend(page.get("events", []))
            token = page.get("nextPageToken")
        if not for_engine:
            stamps_to_datetimes(events)
        task["events"] = events
        return task

    def respond_decision_task_completed(
        self,
        token: str,
        decisions: Sequence[Mapping[str, Any]],
        *,
        execution_context: str | None = None,
        task_list: str | None = None,
        schedule_to_start_timeout: Duration = None,
    ) -> None:
        """Answer a decision task; `task_list` routes the execution's next one (decider affinity).

        `schedule_to_start_timeout` bounds how long that next task may wait on `task_list`.
        """
        self._call(
            "respond_decision_task_completed",
            **_drop_none(
                taskToken=token,
                decisions=list(decisions),
                executionContext=execution_context,
                taskList={"name": task_list} if task_list else None,
                taskListScheduleToStartTimeout=duration(schedule_to_start_timeout),
            ),
        )

    # -- activity tasks -------------------------------------------------------------------------

    def poll_for_activity_task(
        self, task_list: str, identity: str | None = None
    ) -> dict[str, Any] | None:
        """Long-poll an activity task; None when the poll came back empty."""
        task = self._call(
            "poll_for_activity_task",
            poll=True,
            domain=self.domain,
            taskList={"name": task_list},
            identity=identity or default_identity(),
        )
        if not task.get("taskToken"):
            return None
        return _strip_meta(task)

    def respond_activity_task_completed(self, token: str, result: str | None = None) -> None:
        """Report an activity's (JSON) result."""
        self._call(
            "respond_activity_task_completed", **_drop_none(taskToken=token, result=result)
        )

    def respond_activity_task_failed(
        self, token: str, reason: str | None = None, details: str | None = None
    ) -> None:
        """Report an activity failure; reason is cut to SWF's 256 characters."""
        self._call(
            "respond_activity_task_failed",
            **_drop_none(
                taskToken=token,
                reason=truncate_reason(reason) if reason else None,
                details=details,
            ),
        )

    def respond_activity_task_canceled(self, token: str, details: str | None = None) -> None:
        """Acknowledge a cancel request for an activity."""
        self._call(
            "respond_activity_task_canceled", **_drop_none(taskToken=token, details=details)
        )

    def record_activity_task_heartbeat(self, token: str, details: str | None = None) -> bool:
        """Heartbeat an activity; returns True when a cancel was requested for it."""
        response = self._call(
            "record_activity_task_heartbeat", **_drop_none(taskToken=token, details=details)
        )
        return bool(response.get("cancelRequested", False))


def _code(exc: BaseException) -> str | None:
    """The AWS error code behind a translated error, if any."""
    cause = exc.__cause__
    if isinstance(cause, bexc.ClientError):
        return cause.response.get("Error", {}).get("Code")
    return None


def _start_key(info: Mapping[str, Any]) -> float:
    started = info.get("startTimestamp")
    if isinstance(started, dt.datetime):
        return _as_utc(started).timestamp()
    if isinstance(started, int | float):
        return float(started)
    return 0.0


__all__ = [
    "SwfBackend",
    "aws_errors",
    "bound_unreachable_retries",
    "client_config",
    "connection_retries",
    "default_identity",
    "duration",
    "is_throttling",
    "make_client",
    "resolve_region",
    "s3_client",
    "swf_client",
    "translate_error",
]
