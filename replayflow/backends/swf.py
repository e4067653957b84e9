"""`SwfBackend`: one SWF domain through boto3, every call paginated, retried and translated.

The decider, the worker and the CLI all talk to SWF through `SwfBackend`, so each of them gets the
same endpoint resolution, retries, full pagination and one-line errors without thinking about it.
Its clients and error translation come from `aws.py` (shared with jumbo's S3 client), its history
parsing from `swf_history.py`, and its hot calls go through the direct caller of `aws_json.py`.

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

import datetime as dt
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import botocore.exceptions as bexc
import msgspec
from botocore.parsers import ResponseParserError

from ..encoding import truncate_reason
from ..errors import ExecutionNotFound, ReplayflowError, UnknownDomain, UserError
from ..history import CLOSE_STATUS
from . import swf_history
from .aws import connection_retries, is_throttling, swf_client, translate_error
from .aws_json import DirectCaller, direct_caller
from .base import Duration, default_identity, error_code
from .swf_history import HistoryView

log = logging.getLogger(__name__)

#: Extra rounds of our own (slower) backoff once botocore's retries gave up on throttling.
THROTTLE_ROUNDS = 3
THROTTLE_BASE_DELAY = 1.0
THROTTLE_MAX_DELAY = 30.0
#: A start-time filter wide enough for "any execution still within retention".
EPOCH = dt.datetime(1970, 1, 2, tzinfo=dt.UTC)
_decode_json = msgspec.json.Decoder().decode


#: The calls made per decision and per activity task, made without botocore's request machinery
#: (aws_json.py) unless REPLAYFLOW_DIRECT_CALLS is off; and the decider's history fetches
#: (DIRECT_FOR_ENGINE: only in the engine's view). Every other call, the operators' and the
#: clients', goes through botocore: they are few. None of these sends or receives a timestamp
#: or a blob, the two types a plain JSON body would get wrong (a history's body is kept raw
#: and parsed by swf_history); a test holds the lists to that.
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
    """A direct call's response, as our botocore client gives it (a history's body kept raw)."""
    if operation_model.name in swf_history.HISTORY_OPERATIONS:
        return swf_history.keep_raw(body)
    if not body:
        return {}
    data = _decode_json(body)  # a malformed body: the caller raises ResponseParserError
    if not isinstance(data, dict):
        raise ResponseParserError(f"{operation_model.name}: not a JSON object")
    return data


def swf_direct_caller(client: Any) -> DirectCaller | None:
    """The direct caller for an SWF client's hot calls, or None (off, or not applicable)."""
    if not direct_calls_enabled():
        return None
    return direct_caller(client, parse=_parse_direct, max_attempts=connection_retries())


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
        #: Our own: short timeouts for every call but the long polls (aws.CALL_READ_TIMEOUT),
        #: history bodies kept raw for swf_history, and a direct caller beside each client for
        #: the hot calls.
        self._direct: DirectCaller | None = None
        self._poll_direct: DirectCaller | None = None
        self._poll_client = client  # built on first poll when not given
        if client is None:
            client = swf_client(**self._client_options)
            swf_history.install(client)
            self._direct = swf_direct_caller(client)
        self.client = client
        self._poll_client_lock = threading.Lock()
        self._api_names: dict[str, str] = getattr(
            getattr(client, "meta", None), "method_to_api_mapping", {})
        self._sleep = sleep
        self._operation_models: dict[str, Any] = {}

    @property
    def poll_client(self) -> Any:
        """The client of the long polls (a read timeout above SWF's 60 s), built on first use."""
        if self._poll_client is None:
            with self._poll_client_lock:  # pollers start together, on several threads
                if self._poll_client is None:
                    poll_client = swf_client(poll=True, **self._client_options)
                    swf_history.install(poll_client)
                    if self._direct is not None:
                        self._poll_direct = swf_direct_caller(poll_client)
                    self._poll_client = poll_client
        return self._poll_client

    @property
    def endpoint_url(self) -> str:
        """The endpoint this backend talks to (as resolved by botocore)."""
        return str(self.client.meta.endpoint_url)

    def _call(self, operation: str, *, context: Mapping[str, Any] | None = None,
              poll: bool = False, view: HistoryView | None = None,
              **params: Any) -> dict[str, Any]:
        """One API call with translated errors and a last line of defence against throttling.

        `view`: the call returns a history, whose events are parsed in that view.
        """
        api_name = self._api_names.get(operation, "")
        client = self.poll_client if poll else self.client
        direct = self._poll_direct if poll else self._direct
        if direct is not None and (api_name in DIRECT_OPERATIONS or (
                api_name in DIRECT_FOR_ENGINE and view is HistoryView.ENGINE)):
            caller = direct

            def method(**params: Any) -> dict[str, Any]:
                return caller.call(api_name, params)
        else:
            method = getattr(client, operation)
        delay = THROTTLE_BASE_DELAY
        round_ = 0
        while True:
            try:
                response = method(**params)
                if view is not None:
                    response = swf_history.parse_response(
                        response, self._operation_model(client, api_name), view)
                return response
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
            except (bexc.BotoCoreError, ResponseParserError) as exc:
                self._raise_translated(exc, context)

    def _operation_model(self, client: Any, api_name: str) -> Any:
        model = self._operation_models.get(api_name)
        if model is None:
            model = client.meta.service_model.operation_model(api_name)
            self._operation_models[api_name] = model
        return model

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
            if error_code(exc) == "DomainAlreadyExistsFault":
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
            if error_code(exc) != "TypeAlreadyExistsFault":
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
            view=HistoryView.FULL,
        )
        for event in response.get("events", []):
            if event["eventType"] in CLOSE_STATUS:
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
        view = HistoryView.ENGINE if for_engine else HistoryView.FULL
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            response = self._call(
                "get_workflow_execution_history",
                context={"workflow_id": workflow_id, "run_id": run_id},
                view=view,
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
        view = HistoryView.ENGINE if for_engine else HistoryView.FULL
        task = _strip_meta(self._call("poll_for_decision_task", poll=True, view=view, **params))
        if not task.get("taskToken"):
            return None
        events = list(task.get("events", []))
        token = task.pop("nextPageToken", None)
        while token:
            page = self._call("poll_for_decision_task", poll=True, view=view,
                              nextPageToken=token, **params)
            events.extend(page.get("events", []))
            token = page.get("nextPageToken")
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


def _start_key(info: Mapping[str, Any]) -> float:
    started = info.get("startTimestamp")
    if isinstance(started, dt.datetime):
        return _as_utc(started).timestamp()
    if isinstance(started, int | float):
        return float(started)
    return 0.0


__all__ = ["DIRECT_CALLS_ENV", "SwfBackend", "direct_calls_enabled", "duration"]
