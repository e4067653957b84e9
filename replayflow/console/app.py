"""The console's ASGI app: the REST API, its OpenAPI document, live events, and the page.

Every endpoint is one row of `ENDPOINTS`: the router and the OpenAPI document are both built from
that table and from the msgspec types the handlers return, so the document describes exactly what
is served. Work that blocks (SWF calls, S3 reads, folding a large history) runs in Starlette's
thread pool. Errors are JSON `{"error": ...}` with a status that says whose fault it was: 400 bad
input, 401 no or wrong token, 404 no such run, 405 no such
method (every POST of a read-only console), 409 the run is in the wrong state,
502 SWF or S3 failed.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import encoding, operator
from ..__about__ import __version__
from ..errors import (
    ConnectionFailed,
    ExecutionNotFound,
    JumboFieldError,
    ReplayflowError,
    UnknownDomain,
    UserError,
    WorkflowNotFound,
)
from . import models, views
from .live import LiveRuns
from .runs import DEFAULT_PAGE_SIZE, LATEST, MAX_PAGE_SIZE, ListQuery, Runs, SwfRuns

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
#: Everything the page loads comes from this server: no CDN, no inline script.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                           "base-uri 'none'; form-action 'none'")


class ApiError(Exception):
    """An answer other than 2xx, as `{"error": message}`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@dataclass
class Console:
    """One console's settings and state, shared by every request."""

    runs: Runs
    token: str | None
    read_only: bool
    live: LiveRuns
    allowed_hosts: list[str] | None = None

    @property
    def can_act(self) -> bool:
        return not self.read_only and not self.runs.read_only


@dataclass
class Param:
    name: str
    where: str  # "path" | "query"
    schema: dict[str, Any]
    description: str = ""
    required: bool = False
    array: bool = False


@dataclass
class Endpoint:
    method: str
    path: str  # OpenAPI path
    operation_id: str
    summary: str
    handler: Callable[[Request, Console, dict[str, str]], Awaitable[Response]]
    response: Any = None  # a msgspec type, or None when `media` says otherwise
    body: Any = None
    params: list[Param] = field(default_factory=list)
    mutating: bool = False
    status: int = 200
    media: str = "application/json"
    errors: tuple[int, ...] = (400, 404, 502)


_ENCODER = msgspec.json.Encoder()
#: Why a POST is refused (405) by a console started with --read-only or on history files.
READ_ONLY = "this console is read-only: it takes no action on runs"


def json_response(value: Any, status: int = 200) -> Response:
    return Response(_ENCODER.encode(value), status_code=status, media_type="application/json")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = json_response(
        models.ErrorBody(message.splitlines()[0] if message else "error"), status)
    if headers:
        response.headers.update(headers)
    return response


# --------------------------------------------------------------------------------------------
# request helpers
# --------------------------------------------------------------------------------------------


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise ApiError(400, f"query parameter {name} must be true or false, not {value!r}")


async def _body(request: Request, kind: type, *, optional: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return kind()
        raise ApiError(400, "the request needs a JSON body")
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"bad request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON ({exc})") from None


def _check_token(console: Console, request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given or console.token is None or \
            not hmac.compare_digest(given.strip().encode(), console.token.encode()):
        raise ApiError(401, "this action needs the console's token: "
                            "send it as 'Authorization: Bearer <token>'")


def _swf(console: Console) -> SwfRuns:
    assert isinstance(console.runs, SwfRuns)
    return console.runs


async def _run(console: Console, workflow_id: str, run_id: str):
    return await run_in_threadpool(console.runs.get, workflow_id, run_id)


def _call_convention(value: Any) -> tuple[list, dict]:
    return encoding.split_input_convention(value)


# --------------------------------------------------------------------------------------------
# handlers
# --------------------------------------------------------------------------------------------


async def list_executions(request: Request, console: Console, path: dict) -> Response:
    status = request.query_params.get("status", "all")
    if status not in ("open", "closed", "all"):
        raise ApiError(400, f"status must be open, closed or all, not {status!r}")
    since_text = request.query_params.get("since")
    try:
        since = operator.parse_since(since_text) if since_text is not None else None
    except OverflowError:  # before year 1: every run is newer
        since = None
    size_text = request.query_params.get("page_size", str(DEFAULT_PAGE_SIZE))
    if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
        raise ApiError(400, f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
    query = ListQuery(status, since, request.query_params.get("type") or None,
                      request.query_params.get("tag") or None)
    rows, token = await run_in_threadpool(console.runs.list, query,
                                          request.query_params.get("page_token") or None,
                                          int(size_text))
    return json_response(models.ExecutionPage(
        [msgspec.convert(row, models.ExecutionSummary, from_attributes=False) for row in rows],
        token))


def _actions(console: Console, is_open: bool) -> list[str]:
    if not console.can_act:
        return []
    return ["terminate", "cancel", "signal"] if is_open else ["restart"]


async def execution(request: Request, console: Console, path: dict) -> Response:
    run = await _run(console, path["workflow_id"], path["run_id"])
    actions = _actions(console, run.history.is_open)
    built = await run_in_threadpool(
        run.view, "info", lambda h: views.info(h, console.runs.decode, actions))
    return json_response(built)


async def tasks(request: Request, console: Console, path: dict) -> Response:
    failed_only = _flag(request, "failed")
    run = await _run(console, path["workflow_id"], path["run_id"])
    rows = await run_in_threadpool(run.view, "tasks",
                                   lambda h: views.tasks(h, console.runs.decode))
    if failed_only:
        rows = [t for t in rows if t.phase in ("failed", "timed_out")]
    return json_response(models.TaskList(rows))


async def profile(request: Request, console: Console, path: dict) -> Response:
    run = await _run(console, path["workflow_id"], path["run_id"])
    return json_response(await run_in_threadpool(
        run.view, "profile", lambda h: views.profile(h, console.runs.decode)))


async def history(request: Request, console: Console, path: dict) -> Response:
    raw = _flag(request, "raw")
    run = await _run(console, path["workflow_id"], path["run_id"])

    def render(h: operator.RunHistory) -> bytes:
        from ..cli.formatting import json_value

        events = operator.decoded_events(h.events, operator.make_decoder(raw=True) if raw
                                         else console.runs.decode)
        # Byte for byte what `replayflow --format json workflow.history [--raw]` prints.
        return (json.dumps(json_value(events), indent=2, ensure_ascii=False) + "\n").encode()

    body = await run_in_threadpool(run.view, "history-raw" if raw else "history", render)
    name = f"{run.workflow_id}-{run.run_id}".replace("/", "_").replace("\"", "_")
    headers = {"Content-Disposition": f'attachment; filename="{name}.history.json"'} if raw \
        else {}
    return Response(body, media_type="application/json", headers=headers)


async def graph(request: Request, console: Console, path: dict) -> Response:
    expand = tuple(sorted(set(request.query_params.getlist("expand"))))
    run = await _run(console, path["workflow_id"], path["run_id"])
    return json_response(await run_in_threadpool(
        run.view, f"graph{expand}", lambda h: views.graph(h, console.runs.decode, expand)))


async def events(request: Request, console: Console, path: dict) -> Response:
    run = await _run(console, path["workflow_id"], path["run_id"])

    async def stream() -> AsyncIterator[bytes]:
        async for chunk in console.live.stream(run):
            yield chunk

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _act(console: Console, workflow_id: str, run_id: str,
               action: Callable[[], Any]) -> Any:
    try:
        return await run_in_threadpool(action)
    except (ExecutionNotFound, WorkflowNotFound, ConnectionFailed, UnknownDomain,
            JumboFieldError):
        raise
    except UserError as exc:  # already closed, still open, ...: the run's state is wrong
        raise ApiError(409, str(exc)) from None
    finally:
        _swf(console).forget(workflow_id, None if run_id == LATEST else run_id)


def _target(path: dict) -> tuple[str, str | None]:
    run_id = path["run_id"]
    return path["workflow_id"], None if run_id == LATEST else run_id


async def terminate(request: Request, console: Console, path: dict) -> Response:
    _check_token(console, request)
    body = await _body(request, models.TerminateRequest, optional=True)
    workflow_id, run_id = _target(path)
    swf = _swf(console)
    done = await _act(console, workflow_id, path["run_id"], lambda: operator.terminate(
        swf.backend, workflow_id, run_id, body.reason or "terminated from the console"))
    return json_response(models.ActionResult("terminate", workflow_id, done))


async def cancel(request: Request, console: Console, path: dict) -> Response:
    _check_token(console, request)
    await _body(request, models.CancelRequest, optional=True)
    workflow_id, run_id = _target(path)
    swf = _swf(console)
    done = await _act(console, workflow_id, path["run_id"],
                      lambda: operator.request_cancel(swf.backend, workflow_id, run_id))
    return json_response(models.ActionResult("cancel", workflow_id, done))


async def signal(request: Request, console: Console, path: dict) -> Response:
    _check_token(console, request)
    body = await _body(request, models.SignalRequest)
    workflow_id, run_id = _target(path)
    swf = _swf(console)
    text = json.dumps(body.input)
    done = await _act(console, workflow_id, path["run_id"], lambda: operator.signal(
        swf.backend, workflow_id, body.name, text, run_id))
    return json_response(models.ActionResult("signal", workflow_id, done))


async def restart(request: Request, console: Console, path: dict) -> Response:
    _check_token(console, request)
    raw = (await request.body()).strip()
    body = await _body(request, models.RestartRequest, optional=True)
    call = None
    if raw and "input" in msgspec.json.decode(raw):
        call = _call_convention(body.input)
    workflow_id, run_id = _target(path)
    swf = _swf(console)
    new_id, new_run = await _act(console, workflow_id, path["run_id"], lambda: operator.restart(
        swf.backend, workflow_id, run_id, call))
    return json_response(models.ActionResult("restart", new_id, new_run), 201)


async def start(request: Request, console: Console, path: dict) -> Response:
    _check_token(console, request)
    body = await _body(request, models.StartRequest)
    swf = _swf(console)

    def go() -> tuple[str, str]:
        from ..client import start_execution
        from ..loader import check_arguments, load_workflow

        try:
            cls = load_workflow(body.workflow)
            args, kwargs = _call_convention(body.input)
            check_arguments(cls, args, kwargs)
        except UserError as exc:
            raise ApiError(400, str(exc)) from None
        return start_execution(swf.backend, cls, args, kwargs, workflow_id=body.workflow_id,
                               task_list=body.task_list,
                               execution_timeout=body.execution_timeout, tags=body.tags)

    workflow_id, run_id = await _act(console, body.workflow_id or "", LATEST, go)
    return json_response(models.ActionResult("start", workflow_id, run_id), 201)


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------

_RUN = "/api/executions/{workflow_id}/{run_id}"
_STRING = {"type": "string", "minLength": 1}


def _run_params() -> list[Param]:
    return [
        Param("workflow_id", "path", _STRING, "The workflow id.", True),
        Param("run_id", "path", _STRING, "The run id, or `latest` for the newest run.", True),
    ]


def _endpoints() -> list[Endpoint]:
    run = _run_params()
    return [
        Endpoint("GET", "/api/executions", "listExecutions",
                 "List runs, newest first, filtered and paged.", list_executions,
                 models.ExecutionPage, params=[
                     Param("status", "query", {"type": "string", "enum": ["open", "closed", "all"],
                                               "default": "all"}),
                     Param("since", "query", {"anyOf": [
                         {"type": "string", "pattern": "^[0-9]{1,6}[smhdwSMHDW]$"},
                         {"type": "string", "format": "date"}]},
                           "Runs started since: a duration ago (30m, 1h, 2d, 1w) or an ISO 8601 "
                           "date (a date and time is taken too)."),
                     Param("type", "query", {"type": "string"}, "Only runs of this type."),
                     Param("tag", "query", {"type": "string"}, "Only runs with this tag."),
                     Param("page_token", "query", {"type": "string"},
                           "The `next_page_token` of the previous page."),
                     Param("page_size", "query", {"type": "integer", "minimum": 1,
                                                  "maximum": MAX_PAGE_SIZE,
                                                  "default": DEFAULT_PAGE_SIZE}),
                 ], errors=(400, 502)),
        Endpoint("POST", "/api/executions", "startExecution",
                 "Start a run of a workflow class the console process can import.", start,
                 models.ActionResult, body=models.StartRequest, mutating=True, status=201),
        Endpoint("GET", _RUN, "getExecution", "One run: what `workflow.info` shows.",
                 execution, models.ExecutionInfo, params=run),
        Endpoint("GET", _RUN + "/tasks", "listTasks", "The run's tasks, payloads decoded.",
                 tasks, models.TaskList, params=run + [
                     Param("failed", "query", {"type": "boolean", "default": False},
                           "Only failed and timed-out tasks.")]),
        Endpoint("GET", _RUN + "/profile", "getProfile",
                 "Where the run's time went: the timeline's data.", profile, models.Profile,
                 params=run),
        Endpoint("GET", _RUN + "/history", "getHistory",
                 "Every event. `raw=true` is exactly what `workflow.history --raw` writes in "
                 "JSON: a file `replayflow.testing.replay` and `--history-file` read back.",
                 history, list[dict[str, Any]], params=run + [
                     Param("raw", "query", {"type": "boolean", "default": False},
                           "Keep jumbo-field references instead of their payloads.")]),
        Endpoint("GET", _RUN + "/graph", "getGraph",
                 "The run's dataflow graph: tasks and the futures passed between them.",
                 graph, models.Graph, params=run + [
                     Param("expand", "query", {"type": "string"}, "A grouped task name to draw "
                           "task by task (repeatable).", array=True)]),
        Endpoint("GET", _RUN + "/events", "watchExecution",
                 "Server-sent events: `update` (a LiveUpdate) whenever the run's history grows, "
                 "then `end` once it is closed.", events, None, params=run,
                 media="text/event-stream"),
        Endpoint("POST", _RUN + "/terminate", "terminateExecution", "Terminate the open run.",
                 terminate, models.ActionResult, body=models.TerminateRequest, params=run,
                 mutating=True),
        Endpoint("POST", _RUN + "/cancel", "cancelExecution",
                 "Ask the open run to cancel itself.", cancel, models.ActionResult,
                 body=models.CancelRequest, params=run, mutating=True),
        Endpoint("POST", _RUN + "/signal", "signalExecution",
                 "Send a signal (`input` is any JSON) to the open run.", signal,
                 models.ActionResult, body=models.SignalRequest, params=run, mutating=True),
        Endpoint("POST", _RUN + "/restart", "restartExecution",
                 "Start a new run like this closed one, with its input or a new one.", restart,
                 models.ActionResult, body=models.RestartRequest, params=run, mutating=True,
                 status=201),
    ]


# --------------------------------------------------------------------------------------------
# OpenAPI
# --------------------------------------------------------------------------------------------


def _sse_event(name: str, data_schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["event", "data"], "properties": {
        "event": {"const": name},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": data_schema}}}


def openapi_document(endpoints: list[Endpoint], examples: tuple[str, str] | None,
                     can_act: bool) -> dict[str, Any]:
    """OpenAPI 3.1, its schemas generated from the msgspec types the handlers use."""
    types: list[Any] = [models.ErrorBody, models.LiveUpdate, models.StreamEnd]
    for endpoint in endpoints:
        types += [t for t in (endpoint.response, endpoint.body) if t is not None]
    refs, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}")
    schema_of = dict(zip([id(t) for t in types], refs, strict=True))
    error_ref = schema_of[id(models.ErrorBody)]
    reasons = {400: "Bad input", 401: "No token, or the wrong one", 404: "No such run",
               409: "The run is in the wrong state for this", 502: "SWF or S3 failed"}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        if endpoint.mutating and not can_act:
            continue
        parameters = []
        for param in endpoint.params:
            schema = {"type": "array", "items": param.schema} if param.array else param.schema
            entry: dict[str, Any] = {"name": param.name, "in": param.where,
                                     "required": param.required, "schema": schema}
            if param.description:
                entry["description"] = param.description
            if param.where == "path" and examples is not None:
                entry["example"] = examples[0] if param.name == "workflow_id" else examples[1]
            parameters.append(entry)
        if endpoint.media == "application/json":
            success = {"application/json": {"schema": schema_of[id(endpoint.response)]}}
        else:  # server-sent events: the schema describes one event (OpenAPI 3.1)
            success = {endpoint.media: {"schema": {"oneOf": [
                _sse_event("update", schema_of[id(models.LiveUpdate)]),
                _sse_event("end", schema_of[id(models.StreamEnd)])]}}}
        responses: dict[str, Any] = {
            str(endpoint.status): {"description": "OK", "content": success}}
        errors = endpoint.errors + ((401, 409) if endpoint.mutating else ())
        for status in sorted(set(errors)):
            responses[str(status)] = {"description": reasons[status], "content": {
                "application/json": {"schema": error_ref}}}
        operation: dict[str, Any] = {"operationId": endpoint.operation_id,
                                     "summary": endpoint.summary, "parameters": parameters,
                                     "responses": responses}
        if endpoint.body is not None:
            operation["requestBody"] = {
                "required": endpoint.body is models.SignalRequest or
                endpoint.body is models.StartRequest,
                "content": {"application/json": {"schema": schema_of[id(endpoint.body)]}}}
        if endpoint.mutating:
            operation["security"] = [{"token": []}]
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "replayflow console", "version": __version__,
                 "description": "Runs of replayflow workflows: inspect them, watch them, act on "
                                "them. Errors are `{\"error\": ...}`."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {"token": {
            "type": "http", "scheme": "bearer",
            "description": "The token the console printed at start-up, or "
                           "REPLAYFLOW_CONSOLE_TOKEN."}}},
    }


# --------------------------------------------------------------------------------------------
# routing
# --------------------------------------------------------------------------------------------


class SecurityHeaders:
    """Every response: the content security policy, no MIME sniffing, no referrer."""

    HEADERS = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
               (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

_SUFFIXES = ("tasks", "profile", "history", "graph", "events", "terminate", "cancel", "signal",
             "restart")


class HostCheck:
    """Refuse a Host header naming another server: a page elsewhere whose name was pointed at
    127.0.0.1 (DNS rebinding) must not read this console's runs."""

    def __init__(self, app: Any, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in self.allowed:
                response = error_response(400, f"unexpected Host header {host!r}: open the "
                                               "console by the address it printed")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _split_run(rest: str) -> tuple[str, str]:
    """`<run_id>[/<suffix>]` -> (run_id, suffix). SWF run ids may hold a `/`: the suffix is the
    last segment only when it is one of ours."""
    head, sep, tail = rest.rpartition("/")
    if sep and tail in _SUFFIXES:
        return head, tail
    return rest, ""


def create_app(runs: Runs, *, token: str | None = None, read_only: bool = False,
               allowed_hosts: list[str] | None = None,
               poll_interval: float | None = None) -> Starlette:
    """The console for `runs`. `token` guards every POST; `read_only` (or a history-file source)
    removes the actions. `allowed_hosts` pins the Host header (DNS-rebinding protection)."""
    live = LiveRuns(runs) if poll_interval is None else LiveRuns(runs, poll_interval)
    console = Console(runs, token, read_only, live, allowed_hosts)
    endpoints = [e for e in _endpoints() if console.can_act or not e.mutating]
    table: dict[tuple[str, str], Endpoint] = {}
    for endpoint in endpoints:
        suffix = endpoint.path.removeprefix(_RUN).lstrip("/") if endpoint.path.startswith(
            _RUN) else None
        table[(endpoint.method, endpoint.path if suffix is None else "run/" + suffix)] = \
            endpoint
    document: dict[str, Any] | None = None

    async def dispatch(endpoint: Endpoint, request: Request, path: dict) -> Response:
        return await endpoint.handler(request, console, path)

    async def collection(request: Request) -> Response:
        endpoint = table.get((request.method, "/api/executions"))
        if endpoint is None:
            raise ApiError(405, READ_ONLY, {"Allow": "GET"})
        return await dispatch(endpoint, request, {})

    async def one_run(request: Request) -> Response:
        run_id, suffix = _split_run(request.path_params["rest"])
        if not run_id:
            raise ApiError(404, "no run id in the path")
        endpoint = table.get((request.method, "run/" + suffix))
        if endpoint is None:
            other = "POST" if request.method == "GET" else "GET"
            if (other, "run/" + suffix) in table:
                raise ApiError(405, f"{request.method} is not allowed here", {"Allow": other})
            raise ApiError(404, f"no such endpoint: {request.url.path}")
        return await dispatch(endpoint, request,
                              {"workflow_id": request.path_params["workflow_id"],
                               "run_id": run_id})

    async def openapi(request: Request) -> Response:
        nonlocal document
        if document is None:
            examples = await run_in_threadpool(runs.first_run)
            document = openapi_document(endpoints, examples, console.can_act)
        return json_response(document)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def config(request: Request) -> Response:
        return json_response({"source": runs.name, "live": runs.live,
                              "can_act": console.can_act, "version": __version__})

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, exc.headers)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = exc.detail or "error"
        if exc.status_code == 405 and request.method == "POST" and not console.can_act:
            message = READ_ONLY
        return error_response(exc.status_code, message, exc.headers)

    async def on_replayflow_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ExecutionNotFound | WorkflowNotFound):
            return error_response(404, str(exc))
        if isinstance(exc, ConnectionFailed | UnknownDomain | JumboFieldError):
            return error_response(502, str(exc))
        if isinstance(exc, UserError):
            return error_response(400, str(exc))
        return error_response(502, str(exc))

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, f"internal error ({type(exc).__name__}); see the console's "
                                   "log")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await live.close()

    methods = ["GET", "POST"] if console.can_act else ["GET"]
    middleware = [Middleware(SecurityHeaders)]
    if allowed_hosts:
        middleware.append(Middleware(HostCheck, allowed_hosts=allowed_hosts))
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/openapi.json", openapi),
            Route("/api/config", config),
            Route("/api/executions", collection, methods=methods),
            Route("/api/executions/{workflow_id}/{rest:path}", one_run, methods=methods),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_error,
                            ReplayflowError: on_replayflow_error, Exception: on_crash},
        middleware=middleware,
        lifespan=lifespan,
    )

    app.state.console = console
    return app
