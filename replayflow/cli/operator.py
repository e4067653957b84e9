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
from ..inspection import (
    gantt_bar,
    profile_rows,
    task_rows,
    workflow_window,
)
from .app import CliError, OutputOptions, cli, handle_errors
from .formatting import INFO_VALUE_WIDTH, json_value, render, render_info, render_table

LIST_COLUMNS = ["workflow_id", "run_id", "type", "status", "started", "closed", "duration"]
TASK_COLUMNS = ["task_id", "kind", "name", "state", "attempts", "scheduled", "started", "closed",
                "error"]
TASK_JSON_COLUMNS = TASK_COLUMNS[:3] + ["version"] + TASK_COLUMNS[3:] + ["details", "input",
                                                                           "result"]
PROFILE_COLUMNS = ["task_id", "name", "state", "attempts", "waiting", "running", "percentage"]
HISTORY_COLUMNS = ["event_id", "timestamp", "event_type", "attributes"]
INFO_KEYS = ["workflow_id", "run_id", "workflow_type", "workflow_version", "task_list", "status",
             "tags", "started", "closed", "duration", "input", "result", "reason", "details",
             "cancel_requested", "event_count", "task_counts"]
#: Shown only when set: most runs have no parent and were not continued.
OPTIONAL_INFO_KEYS = ["parent_workflow_id", "parent_run_id", "continued_from_run_id",
                      "continued_as_run_id"]
GANTT_WIDTH = 40

DOMAIN_OPTION = click.option("--domain", envvar="SWF_DOMAIN", help="SWF domain [env: SWF_DOMAIN].")
HISTORY_FILE_OPTION = click.option(
    "--history-file", type=click.Path(dir_okay=False),
    help="Read the run from this file (e.g. written by workflow.start --local --history-file) "
         "instead of SWF.")


def _output(ctx: click.Context) -> OutputOptions:
    obj = ctx.find_object(OutputOptions)
    return obj if obj is not None else OutputOptions()


def _emit(text: str) -> None:
    click.echo(text, nl=False)


def _load(domain: str | None, workflow_id: str | None, run_id: str | None,
          history_file: str | None) -> operator.RunHistory:
    return operator.load_history(domain=domain, workflow_id=workflow_id, run_id=run_id,
                                 history_file=history_file)


# --------------------------------------------------------------------------------------------
# list
# --------------------------------------------------------------------------------------------


@cli.command("workflow.list")
@DOMAIN_OPTION
@click.option("--status", type=click.Choice(["open", "closed", "all"]), default="open",
              show_default=True, help="Which executions to list.")
@click.option("--since", metavar="AGE|DATE",
              help="Only runs started since: 30m, 1h, 2d, 1w ago, or an ISO date.")
@click.option("--type", "type_name", metavar="NAME", help="Only runs of this workflow type.")
@click.option("--tag", help="Only runs carrying this tag.")
@click.pass_context
@handle_errors
def workflow_list(ctx: click.Context, domain: str | None, status: str, since: str | None,
                  type_name: str | None, tag: str | None) -> None:
    """List the executions of a domain, newest first.

    Columns: workflow id, run id, type, status, start and close times, duration (seconds).
    """
    oldest = operator.parse_since(since) if since else None
    backend = operator.backend_for(domain)
    rows = operator.list_runs(backend, status, oldest, type_name, tag)
    out = _output(ctx)
    columns = LIST_COLUMNS + (["version", "tags"] if out.format == "json" else [])
    _emit(render(rows, columns, out.format, out.header))


# --------------------------------------------------------------------------------------------
# inspection
# --------------------------------------------------------------------------------------------


def inspection_command(name: str, help_text: str):  # noqa: ANN201 - a click decorator stack
    """The shared shape: [--domain D] WORKFLOW_ID [RUN_ID] | --history-file FILE."""

    def decorate(fn):  # noqa: ANN001, ANN202
        fn.__doc__ = help_text
        fn = handle_errors(fn)
        fn = click.pass_context(fn)
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
                  domain: str | None, history_file: str | None) -> None:
    history = _load(domain, workflow_id, run_id, history_file)
    info = operator.run_info(history)
    keys = INFO_KEYS + [k for k in OPTIONAL_INFO_KEYS if info.get(k)]
    out = _output(ctx)
    _emit(render_info(info, out.format, out.header, keys=keys))


@inspection_command("workflow.tasks", """One row per task of a run: activities, child
    workflows, timers, signals and markers, with state, attempts, times and the last error.
    """)
def workflow_tasks(ctx: click.Context, workflow_id: str | None, run_id: str | None,
                   domain: str | None, history_file: str | None) -> None:
    history = _load(domain, workflow_id, run_id, history_file)
    rows = [row.as_dict() for row in task_rows(history.events, operator.make_decoder())]
    out = _output(ctx)
    columns = TASK_JSON_COLUMNS if out.format == "json" else TASK_COLUMNS
    _emit(render(rows, columns, out.format, out.header))


@inspection_command("workflow.profile", """Where the time of a run went, longest-running first.

    Per task: seconds waiting for a worker, seconds running, and running time as a percentage
    (0-100) of the run's wall time. The table format adds a Gantt bar (░ waiting, █ running)
    over the run's window.
    """)
def workflow_profile(ctx: click.Context, workflow_id: str | None, run_id: str | None,
                     domain: str | None, history_file: str | None) -> None:
    history = _load(domain, workflow_id, run_id, history_file)
    now = history.now()
    profile = profile_rows(history.events, operator.make_decoder(), now=now)
    rows = [row.as_dict() for row in profile]
    out = _output(ctx)
    columns = list(PROFILE_COLUMNS)
    if out.format == "table":
        start, end = workflow_window(history.events, now)
        if start is not None and end is not None:
            for row, data in zip(profile, rows, strict=True):
                data["gantt"] = gantt_bar(row, start, end, GANTT_WIDTH)
            columns.append("gantt")
    elif out.format == "json":
        columns[2:2] = ["kind"]
        columns[-3:-3] = ["scheduled", "started", "closed"]
    _emit(render(rows, columns, out.format, out.header))


@cli.command("workflow.history")
@click.argument("workflow_id", required=False)
@click.argument("run_id", required=False)
@DOMAIN_OPTION
@HISTORY_FILE_OPTION
@click.option("--raw", is_flag=True, help="Show jumbo-field references instead of their payloads.")
@click.pass_context
@handle_errors
def workflow_history(ctx: click.Context, workflow_id: str | None, run_id: str | None,
                     domain: str | None, history_file: str | None, raw: bool) -> None:
    """Every event of a run, all pages; jumbo fields decoded unless --raw.

    `--format json` prints the events themselves (a list that --history-file reads back).
    """
    history = _load(domain, workflow_id, run_id, history_file)
    events = operator.decoded_events(history.events, operator.make_decoder(raw=raw))
    out = _output(ctx)
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
    if history_file:
        if len(ids) != 1:
            raise UserError("with --history-file, give only TASK_ID")
        workflow_id = run_id = None
    elif len(ids) == 2:
        workflow_id, run_id = ids[0], None
    elif len(ids) == 3:
        workflow_id, run_id = ids[0], ids[1]
    else:
        raise UserError("give WORKFLOW_ID [RUN_ID] TASK_ID (with --domain), "
                        "or --history-file FILE TASK_ID")
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
        try:
            with click.open_file(input_file) as source:
                input_json = source.read()
        except OSError as exc:
            raise UserError(f"cannot read --input-file {input_file}: {exc.strerror}") from None
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
    "workflow_cancel",
    "workflow_history",
    "workflow_info",
    "workflow_list",
    "workflow_profile",
    "workflow_restart",
    "workflow_signal",
    "workflow_tasks",
    "workflow_terminate",
]
