"""Operator commands: what is running, what did a run do, where did the time go, then act.

Inspection commands (info, tasks, profile, history, activity.rerun) read a run from SWF or from a
`--history-file`; the others act on SWF runs. The logic lives in `replayflow.operator` and
`replayflow.inspection`; this module parses, calls and formats.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .. import encoding, operator
from ..errors import UserError
from ..history import CLOSE_STATUS
from ..inspection import (
    gantt_bar,
    profile_rows,
    profile_summary,
    task_records,
    waiting_of,
    workflow_window,
)
from .app import CliError, OutputOptions, cli, handle_errors
from .formatting import (
    INFO_VALUE_WIDTH,
    Duration,
    format_duration,
    json_value,
    render,
    render_info,
    render_table,
    terminal_width,
)

LIST_COLUMNS = ["workflow_id", "run_id", "type", "status", "started", "closed", "duration"]
#: csv keeps its historical columns first (scripts read them by position), durations last.
TASK_COLUMNS = ["task_id", "kind", "name", "state", "attempts", "scheduled", "started", "closed",
                "error", "waited", "ran"]
TASK_JSON_COLUMNS = TASK_COLUMNS[:3] + ["version"] + TASK_COLUMNS[3:] + ["details", "input",
                                                                           "result", "compensates"]
#: The table: durations instead of timestamps, ids never cut, name and error cut to fit.
TASK_TABLE_COLUMNS = ["task_id", "name", "state", "attempts", "waited", "ran", "error"]
TASK_TABLE_CUTTABLE = ("name", "error")
PROFILE_COLUMNS = ["task_id", "name", "state", "attempts", "waiting", "running", "percentage"]
PROFILE_LABELS = {"waiting": "waiting(s)", "running": "running(s)", "percentage": "%wall"}
TASK_INFO_KEYS = ["task_id", "kind", "name", "version", "state", "attempts", "scheduled",
                  "started", "closed", "waited", "ran", "input", "result", "error"]
ATTEMPT_COLUMNS = ["attempt", "activity_id", "state", "waited", "ran", "worker", "error"]
WORKFLOWS_COLUMNS = ["workflow", "type", "version", "task_list", "description"]
HISTORY_COLUMNS = ["event_id", "timestamp", "event_type", "attributes"]
INFO_KEYS = ["workflow_id", "run_id", "workflow_type", "workflow_version", "task_list", "status",
             "tags", "started", "closed", "duration", "input", "result", "reason", "details",
             "cancel_requested", "event_count", "task_counts"]
#: Shown only when set: most runs have no parent, were not continued, have nothing waiting for
#: a slot under SWF's open-item limits, and a history under 10,000 events.
OPTIONAL_INFO_KEYS = ["parent_workflow_id", "parent_run_id", "continued_from_run_id",
                      "continued_as_run_id", "waiting", "open_tasks", "warning"]
GANTT_WIDTH = 40

DOMAIN_OPTION = click.option("--domain", envvar="SWF_DOMAIN", help="SWF domain [env: SWF_DOMAIN].")
HISTORY_FILE_OPTION = click.option(
    "--history-file", type=click.Path(dir_okay=False),
    help="Read the run from this file (e.g. written by workflow.start --local --history-file) "
         "instead of SWF.")


HEADER_OPTION = click.option(
    "--header/--no-header", "command_header", default=None,
    help="Print the header (and a table's summary lines). Default: on for tables, off for csv.")


def _output(ctx: click.Context, command_header: bool | None = None) -> OutputOptions:
    """The format, and whether to print a header: the command's flag, the global one, or the
    format's default (people reading a table want one; a csv header breaks line-based scripts).
    """
    obj = ctx.find_object(OutputOptions) or OutputOptions()
    header = command_header
    if header is None:
        root = ctx.find_root()
        given = root.get_parameter_source("header") not in (
            None, click.core.ParameterSource.DEFAULT)
        header = obj.header if given else obj.format == "table"
    return OutputOptions(obj.format, header)


def _emit(text: str) -> None:
    click.echo(text, nl=False)


def _load(domain: str | None, workflow_id: str | None, run_id: str | None,
          history_file: str | None) -> operator.RunHistory:
    return operator.load_history(domain=domain, workflow_id=workflow_id, run_id=run_id,
                                 history_file=history_file)


# --------------------------------------------------------------------------------------------
# list
# --------------------------------------------------------------------------------------------


@click.command("workflow.list")
@DOMAIN_OPTION
@click.option("--status", type=click.Choice(operator.LIST_STATUSES, case_sensitive=False),
              default="open", show_default=True,
              help="Open, closed or all runs, or the closed runs of one close status.")
@click.option("--since", metavar="AGE|DATE",
              help="Only runs started since: 30m, 1h, 2d, 1w ago, or an ISO date.")
@click.option("--type", "type_name", metavar="NAME", help="Only runs of this workflow type.")
@click.option("--tag", help="Only runs carrying this tag.")
@click.option("--workflow-id-prefix", metavar="PREFIX",
              help="Only runs whose workflow id starts with PREFIX.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N runs.")
@HEADER_OPTION
@click.pass_context
@handle_errors
def workflow_list(ctx: click.Context, domain: str | None, status: str, since: str | None,
                  type_name: str | None, tag: str | None, workflow_id_prefix: str | None,
                  limit: int | None, command_header: bool | None) -> None:
    """List the executions of a domain, newest first (workflow.filter is the same command).

    \b
    Columns: workflow id, run id, type, status, start and close times, duration (seconds).
      replayflow workflow.filter --domain D --status failed --since 1d --limit 20
      replayflow workflow.list --domain D --workflow-id-prefix nightly- --status all
    """
    oldest = operator.parse_since(since) if since else None
    backend = operator.backend_for(domain)
    rows = operator.list_runs(backend, status, oldest, type_name, tag,
                              workflow_id_prefix=workflow_id_prefix, limit=limit)
    out = _output(ctx, command_header)
    columns = LIST_COLUMNS + (["version", "tags"] if out.format == "json" else [])
    _emit(render(rows, columns, out.format, out.header))


cli.add_command(workflow_list)
#: simpleflow's name for a filtered list: the same command.
cli.add_command(workflow_list, "workflow.filter")


# --------------------------------------------------------------------------------------------
# inspection
# --------------------------------------------------------------------------------------------


def inspection_command(name: str, help_text: str):  # noqa: ANN201 - a click decorator stack
    """The shared shape: [--domain D] WORKFLOW_ID [RUN_ID] | --history-file FILE."""

    def decorate(fn):  # noqa: ANN001, ANN202
        fn.__doc__ = help_text
        fn = handle_errors(fn)
        fn = click.pass_context(fn)
        fn = HEADER_OPTION(fn)
        fn = HISTORY_FILE_OPTION(fn)
        fn = DOMAIN_OPTION(fn)
        fn = click.argument("run_id", required=False)(fn)
        fn = click.argument("workflow_id", required=False)(fn)
        return cli.command(name)(fn)

    return decorate


@inspection_command("workflow.info", """Type, status, times, input and result of a run.

    Without RUN_ID: the newest run of WORKFLOW_ID, closed runs included. The input shown is the
    workflow's own, and a failed run shows its reason and details.
    """)
def workflow_info(ctx: click.Context, workflow_id: str | None, run_id: str | None,
                  domain: str | None, history_file: str | None,
                  command_header: bool | None) -> None:
    history = _load(domain, workflow_id, run_id, history_file)
    info = operator.run_info(history)
    keys = INFO_KEYS + [k for k in OPTIONAL_INFO_KEYS if info.get(k)]
    out = _output(ctx, command_header)
    _emit(render_info(info, out.format, out.header, keys=keys))


@inspection_command("workflow.tasks", """One row per task of a run: activities, child
    workflows, timers, signals and markers, with state, attempts, durations and the last error.

    \b
    The table shows how long each task waited for a worker and ran (over all its attempts),
    keeps ids whole so they can be pasted into task.info or activity.rerun, and cuts the name
    and error to fit the terminal (COLUMNS sets the width). A task still open when its run
    closed is ABANDONED; an activity a repaired run took from the run it repairs
    (`standalone --repair`) is REUSED. --format csv and json keep the timestamps and add
    waited/ran in seconds; json has the input, result and failure details too.
    """)
def workflow_tasks(ctx: click.Context, workflow_id: str | None, run_id: str | None,
                   domain: str | None, history_file: str | None,
                   command_header: bool | None) -> None:
    history = _load(domain, workflow_id, run_id, history_file)
    rows = task_records(history.events, operator.make_decoder(), now=history.now())
    out = _output(ctx, command_header)
    if out.format != "table":
        columns = TASK_JSON_COLUMNS if out.format == "json" else TASK_COLUMNS
        _emit(render(rows, columns, out.format, out.header))
        return
    table = [{**row, "name": _task_name(row), "waited": _duration(row["waited"]),
              "ran": _duration(row["ran"])} for row in rows]
    _emit(render_table(table, TASK_TABLE_COLUMNS, out.header, cuttable=TASK_TABLE_CUTTABLE,
                       max_width=terminal_width()))
    unlisted = _unlisted_waiting(history.events, rows)
    if unlisted:
        _emit(f"(+{unlisted} more waiting for a free slot; workflow.info counts them)\n")


def _unlisted_waiting(events: list[dict], rows: list[dict[str, Any]]) -> int:
    """Waiting tasks of an open run that workflow.tasks has no row for (only the first few of
    each kind are named in the execution context)."""
    summary = waiting_of(events)
    if summary is None or any(e["eventType"] in CLOSE_STATUS for e in events[-1:]):
        return 0
    total = sum(n for n in summary["waiting"].values() if isinstance(n, int))
    return max(0, total - sum(1 for row in rows if row["state"] == "WAITING"))


def _task_name(row: dict[str, Any]) -> str:
    """What the task is, with its kind when the id does not say it (activity ids do)."""
    kind, name = row["kind"], row["name"] or ""
    undo = "undo: " if row.get("compensates") else ""  # a saga's compensation (its id says of what)
    if kind == "activity":
        return undo + name
    if kind == "timer":
        return "timer"
    label = {"child_workflow": "child", "signal_sent": "sent signal"}.get(kind, kind)
    return f"{undo}{label} {name}".rstrip()


def _duration(seconds: float | None) -> Duration | None:
    return None if seconds is None else Duration(seconds)


@inspection_command("workflow.profile", """Where the time of a run went, longest-running first.

    \b
    The table starts with a summary: the run's wall time; its busy time (at least one activity
    or child workflow running); and its longest path, the chain of tasks each scheduled once
    the previous one closed, ending with the last to finish, split into its tasks' running and
    waiting time and the time between them (deciding, back-offs, signals). Then, per task:
    seconds waiting for a worker, seconds running, running time as a percentage of the wall
    time, and a bar over the run's timeline (░ waiting, █ running). csv and json hold the rows.
    """)
def workflow_profile(ctx: click.Context, workflow_id: str | None, run_id: str | None,
                     domain: str | None, history_file: str | None,
                     command_header: bool | None) -> None:
    history = _load(domain, workflow_id, run_id, history_file)
    now = history.now()
    decode = operator.make_decoder()
    profile = profile_rows(history.events, decode, now=now)
    rows = [row.as_dict() for row in profile]
    out = _output(ctx, command_header)
    columns = list(PROFILE_COLUMNS)
    if out.format == "json":
        columns[2:2] = ["kind"]
        columns[-3:-3] = ["scheduled", "started", "closed"]
    if out.format != "table":
        _emit(render(rows, columns, out.format, out.header))
        return
    summary = profile_summary(history.events, decode, now=now)
    if out.header:
        _emit(_summary_text(summary))
    if not rows:
        return
    labels = dict(PROFILE_LABELS)
    start, end = workflow_window(history.events, now)
    if start is not None and end is not None:
        for row, data in zip(profile, rows, strict=True):
            data["gantt"] = gantt_bar(row, start, end, GANTT_WIDTH)
        columns.append("gantt")
        labels["gantt"] = f"timeline 0-{format_duration(summary['wall'])}"
    _emit(render_table(rows, columns, out.header, labels=labels, cuttable=("name",),
                       max_width=terminal_width()))


def _summary_text(summary: dict[str, Any]) -> str:
    wall = summary["wall"]
    if not summary["tasks"]:
        return (f"wall {format_duration(wall)}: no activity, child workflow or timer in this "
                "run, so no time to split\n")
    busy = summary["busy"]
    share = f" ({round(100 * busy / wall)}%)" if wall > 0 else ""
    path = summary["path"]
    shown = " -> ".join(path if len(path) <= 4 else [*path[:2], "...", path[-1]])
    return (
        f"wall {format_duration(wall)}  busy {format_duration(busy)}{share}  "
        f"longest path {format_duration(summary['longest_path'])} over {len(path)} "
        f"task{'s' if len(path) != 1 else ''}: running {format_duration(summary['path_running'])}"
        f", waiting {format_duration(summary['path_waiting'])}, between tasks "
        f"{format_duration(summary['path_between'])}\n"
        f"path: {shown}\n\n"
    )


@cli.command("workflow.history")
@click.argument("workflow_id", required=False)
@click.argument("run_id", required=False)
@DOMAIN_OPTION
@HISTORY_FILE_OPTION
@click.option("--raw", is_flag=True, help="Show jumbo-field references instead of their payloads.")
@HEADER_OPTION
@click.pass_context
@handle_errors
def workflow_history(ctx: click.Context, workflow_id: str | None, run_id: str | None,
                     domain: str | None, history_file: str | None, raw: bool,
                     command_header: bool | None) -> None:
    """Every event of a run, all pages; jumbo fields decoded unless --raw.

    `--format json` prints the events themselves (a list that --history-file reads back).
    """
    history = _load(domain, workflow_id, run_id, history_file)
    events = operator.decoded_events(history.events, operator.make_decoder(raw=raw))
    out = _output(ctx, command_header)
    if out.format == "json":
        _emit(json.dumps(json_value(events), indent=2, ensure_ascii=False) + "\n")
        return
    rows = []
    for event in events:
        key = event["eventType"][0].lower() + event["eventType"][1:] + "EventAttributes"
        rows.append({"event_id": event["eventId"], "timestamp": event["eventTimestamp"],
                     "event_type": event["eventType"], "attributes": event.get(key) or {}})
    if out.format == "table":
        # A history is read for its attributes: give them room, unlike other tables.
        _emit(render_table(rows, HISTORY_COLUMNS, out.header, width=INFO_VALUE_WIDTH))
    else:
        _emit(render(rows, HISTORY_COLUMNS, out.format, out.header))


@cli.command("activity.rerun")
@click.argument("ids", nargs=-1, required=True, metavar="[WORKFLOW_ID [RUN_ID]] TASK_ID")
@DOMAIN_OPTION
@HISTORY_FILE_OPTION
@click.option("--module", "-m", "modules", multiple=True, metavar="MODULE",
              help="Load MODULE: the activity must be declared there, as a worker requires "
                   "(repeatable). A history only names a type; that never makes it run.")
@handle_errors
def activity_rerun(ids: tuple[str, ...], domain: str | None, history_file: str | None,
                   modules: tuple[str, ...]) -> None:
    """Run one activity of a past run again, in this process, with its recorded input.

    \b
    TASK_ID is a task id from workflow.tasks (its last attempt's input is used), or an activity
    id `<task_id>#<attempt>` for one attempt. Prints the result as JSON; if the activity raises,
    prints its traceback and the error on stderr and exits 1. Nothing is sent to SWF.
      replayflow activity.rerun --domain D -m mod my-workflow activity-mod.func-1
      replayflow activity.rerun --history-file run.json -m mod activity-mod.func-1
    """
    workflow_id, run_id = _task_ids(ids, history_file)
    history = _load(domain, workflow_id, run_id, history_file)
    outcome = operator.rerun_activity(history, ids[-1], modules=modules)
    if outcome.ok:
        click.echo(outcome.result)
        return
    details = _json_or_none(outcome.details)
    if isinstance(details, dict) and details.get("traceback"):
        click.echo(str(details["traceback"]).rstrip("\n"), err=True)
    raise CliError(f"{outcome.activity.activity_id} failed: {outcome.reason}", 1)


def _json_or_none(text: str | None) -> Any:
    try:
        return encoding.loads(text)
    except ValueError:
        return None


def _task_ids(ids: tuple[str, ...], history_file: str | None) -> tuple[str | None, str | None]:
    """(workflow_id, run_id) of `[WORKFLOW_ID [RUN_ID]] TASK_ID`, or a usage error."""
    if history_file:
        if len(ids) != 1:
            raise UserError("with --history-file, give only TASK_ID")
        return None, None
    if len(ids) == 2:
        return ids[0], None
    if len(ids) == 3:
        return ids[0], ids[1]
    raise UserError("give WORKFLOW_ID [RUN_ID] TASK_ID (with --domain), "
                    "or --history-file FILE TASK_ID")


@cli.command("task.info")
@click.argument("ids", nargs=-1, required=True, metavar="[WORKFLOW_ID [RUN_ID]] TASK_ID")
@DOMAIN_OPTION
@HISTORY_FILE_OPTION
@click.pass_context
@handle_errors
def task_info(ctx: click.Context, ids: tuple[str, ...], domain: str | None,
              history_file: str | None) -> None:
    """One task of a run in full: input, result or error and traceback, attempts and times.

    \b
    TASK_ID is a task id from workflow.tasks (or one attempt's `<task_id>#<n>`). The table
    format prints every field whole, one attempt per line (its worker and error), then the
    remote traceback of the last failure; --format json has each attempt's traceback too.
      replayflow task.info --domain D my-workflow activity-mod.func-1
      replayflow task.info --history-file run.json activity-mod.func-1
    """
    workflow_id, run_id = _task_ids(ids, history_file)
    history = _load(domain, workflow_id, run_id, history_file)
    detail = operator.task_info(history, ids[-1])
    out = _output(ctx)
    if out.format == "json":
        _emit(json.dumps(json_value(detail), indent=2, ensure_ascii=False) + "\n")
        return
    record = {**detail, "waited": _duration(detail["waited"]), "ran": _duration(detail["ran"])}
    keys = TASK_INFO_KEYS
    if detail.get("compensates"):  # a saga's compensation: which task it undoes
        keys = keys[:3] + ["compensates"] + keys[3:]
    if out.format == "csv":
        _emit(render_info(record, "csv", out.header, keys=keys + ["traceback"]))
        return
    parts = [render_info(record, "table", keys=keys, width=None)]
    attempts = [{**a, "waited": _duration(a["waited"]), "ran": _duration(a["ran"])}
                for a in detail["attempt_list"]]
    parts.append("\n" + render_table(attempts, ATTEMPT_COLUMNS, header=True,
                                     cuttable=("worker", "error"), max_width=terminal_width()))
    failed = next((a for a in reversed(detail["attempt_list"]) if a["traceback"]), None)
    if failed is not None:
        parts.append(f"\ntraceback of attempt {failed['attempt']}:\n"
                     + failed["traceback"].rstrip("\n") + "\n")
    _emit("".join(parts))


@cli.command("workflows")
@click.argument("modules", nargs=-1, metavar="[MODULE ...]")
@HEADER_OPTION
@click.pass_context
@handle_errors
def workflows(ctx: click.Context, modules: tuple[str, ...], command_header: bool | None) -> None:
    """List the Workflow classes of MODULEs, with the first line of their docstrings.

    \b
    A package is searched with its submodules. Without MODULE, the Python files and packages
    of the current directory that declare a Workflow subclass are searched (found by reading
    their source; only those are imported). The first column is what workflow.start takes.
      replayflow workflows examples
      replayflow --format json workflows my_project.flows
    """
    rows = operator.discover_workflows(modules)
    out = _output(ctx, command_header)
    if not rows and out.format == "table":
        where = ", ".join(modules) if modules else "the current directory"
        click.echo(f"no Workflow class found in {where}", err=True)
        return
    _emit(render(rows, WORKFLOWS_COLUMNS, out.format, out.header, cuttable=("description",),
                 max_width=terminal_width()))


# --------------------------------------------------------------------------------------------
# acting on runs
# --------------------------------------------------------------------------------------------


@cli.command("workflow.terminate")
@click.argument("workflow_id")
@click.argument("run_id", required=False)
@DOMAIN_OPTION
@click.option("--reason", help="Why (recorded in the history; cut to 256 characters).")
@handle_errors
def workflow_terminate(workflow_id: str, run_id: str | None, domain: str | None,
                       reason: str | None) -> None:
    """Terminate a run now: no decider is asked, open tasks are abandoned."""
    backend = operator.backend_for(domain)
    run_id = operator.terminate(backend, workflow_id, run_id, reason)
    click.echo(f"terminated {workflow_id} {run_id}", err=True)


@cli.command("workflow.cancel")
@click.argument("workflow_id")
@click.argument("run_id", required=False)
@DOMAIN_OPTION
@handle_errors
def workflow_cancel(workflow_id: str, run_id: str | None, domain: str | None) -> None:
    """Ask a run to cancel itself; its decider sees the request and closes it cleanly."""
    backend = operator.backend_for(domain)
    run_id = operator.request_cancel(backend, workflow_id, run_id)
    click.echo(f"cancel requested for {workflow_id} {run_id}", err=True)


@cli.command("workflow.signal")
@click.argument("workflow_id")
@click.argument("name")
@DOMAIN_OPTION
@click.option("--input", "-i", "input_json", metavar="JSON", help="The signal's input (JSON).")
@click.option("--input-file", metavar="FILE|-",
              help="Read the signal's JSON input from a file (- = stdin): for inputs too large "
                   "for a command line, sent as a jumbo field.")
@click.option("--run-id", help="The run to signal (default: the open run).")
@handle_errors
def workflow_signal(workflow_id: str, name: str, domain: str | None, input_json: str | None,
                    input_file: str | None, run_id: str | None) -> None:
    """Send signal NAME to the open run of WORKFLOW_ID."""
    if input_file is not None:
        if input_json is not None:
            raise UserError("give --input or --input-file, not both")
        from .workflow import read_input_file

        input_json = read_input_file(input_file)
    if input_json is not None:  # bad JSON is reported before any AWS set-up
        encoding.parse_json(input_json, "--input")
    backend = operator.backend_for(domain)
    run_id = operator.signal(backend, workflow_id, name, input_json, run_id)
    click.echo(f"signalled {name} to {workflow_id} {run_id}", err=True)


@cli.command("workflow.restart")
@click.argument("workflow_id")
@click.argument("run_id", required=False)
@DOMAIN_OPTION
@click.option("--input", "-i", "input_json", metavar="JSON",
              help="New input, as for workflow.start (default: the old run's input).")
@click.option("--input-file", metavar="FILE|-", help="Read the new JSON input from a file.")
@handle_errors
def workflow_restart(workflow_id: str, run_id: str | None, domain: str | None,
                     input_json: str | None, input_file: str | None) -> None:
    """Start a new run like a closed one: same type, task list, tags and timeouts.

    The input is the old run's unless --input gives a new one. Prints "<workflow_id> <run_id>"
    of the new run.
    """
    from .workflow import read_input

    call = None
    if input_json is not None or input_file is not None:
        call = read_input(input_json, input_file)
    backend = operator.backend_for(domain)
    new_id, new_run = operator.restart(backend, workflow_id, run_id, call)
    click.echo(f"{new_id} {new_run}")


__all__ = [
    "activity_rerun",
    "task_info",
    "workflow_cancel",
    "workflow_history",
    "workflow_info",
    "workflow_list",
    "workflow_profile",
    "workflow_restart",
    "workflow_signal",
    "workflow_tasks",
    "workflow_terminate",
    "workflows",
]
