"""``flask learning ...``: the queues, suggestions (approve, edit, reject), template versions, network learning."""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click
from flask import current_app
from flask.cli import AppGroup

from learning import QUEUES, Conflict, NotFound
from policy.errors import PolicyError
from policy.source import load_file
from records.catalog import CompileBusy
from records.templates import TemplateConflict

learning_cli = AppGroup("learning", help="Learning queues and suggestions: review, approve, edit, reject.")


def _ext(name: str) -> Any:
    ext = current_app.extensions.get(name)
    if ext is None:
        click.secho("learning is switched off (LEARNING_ENABLED)", fg="red", err=True)
        sys.exit(1)
    return ext


def _now() -> float:
    return current_app.config["SETTINGS"].CLOCK()


def _run(fn: Callable[[], Any]) -> Any:
    """Run a decision; refusals are printed with the field that caused them, and exit 1."""
    try:
        return fn()
    except (NotFound, LookupError) as exc:
        click.secho(f"NOT FOUND: {exc}", fg="red", err=True)
    except (Conflict, CompileBusy, TemplateConflict) as exc:
        click.secho(f"REFUSED: {exc}", fg="red", err=True)
    except PolicyError as exc:
        click.secho(f"REFUSED: {len(exc.errors)} error(s); nothing was applied", fg="red", err=True)
        for e in exc.errors:
            click.echo(f"  {e['path'] or '(document)'}: {e['message']}", err=True)
    sys.exit(1)


@learning_cli.command("queue")
@click.argument("company_id")
@click.argument("queue", type=click.Choice(QUEUES))
@click.option("--reason", default=None, help="Only this reason code.")
@click.option("--status", type=click.Choice(["pending", "suggested", "approved", "rejected"]), default=None)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
def queue_cmd(company_id: str, queue: str, reason: str | None, status: str | None, limit: int) -> None:
    """List a company's queue items, newest first."""
    _ext("learning_feed").drain()
    flt: dict[str, Any] = {"company_id": company_id, "queue": queue}
    flt.update({k: v for k, v in (("reason", reason), ("status", status)) if v})
    rows, total = _ext("learning").store.list_items(flt, skip=0, limit=limit)
    for r in rows:
        click.echo(f"{r['_id']}  {r['reason']:<22} {r['status']:<9} tier={r.get('tier')}  {r['text']}")
    click.echo(f"{total} item(s)")


@learning_cli.command("run")
@click.argument("company_id")
def run_cmd(company_id: str) -> None:
    """Process buffered turns and cluster the company's pending items into suggestions."""
    _ext("learning_feed").drain()
    result = _run(lambda: _ext("learning").run(company_id, now=_now()))
    made = result["suggestions"]
    click.echo(f"new suggestions: {made['scenario']} scenario, {made['cheatsheet']} cheat sheet")


@learning_cli.command("suggestions")
@click.argument("company_id")
@click.option("--queue", type=click.Choice(["scenario", "cheatsheet"]), default=None)
@click.option("--status", type=click.Choice(["pending", "approved", "rejected"]), default="pending", show_default=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
def suggestions_cmd(company_id: str, queue: str | None, status: str, limit: int) -> None:
    """List a company's suggestions, largest first."""
    flt: dict[str, Any] = {"company_id": company_id, "status": status}
    if queue:
        flt["queue"] = queue
    rows, total = _ext("learning").store.list_suggestions(flt, skip=0, limit=limit)
    for s in rows:
        target = s.get("scenario") or s.get("cue") or ""
        click.echo(f"{s['_id']}  {s['queue']:<10} {s['kind']:<15} {target:<20} {s['count']:>4} turns  "
                   f"coherence {s['coherence']:.2f}  e.g. {s['examples'][0] if s['examples'] else ''!r}")
    click.echo(f"{total} suggestion(s)")


@learning_cli.command("show")
@click.argument("suggestion_id")
def show_cmd(suggestion_id: str) -> None:
    """Print one suggestion: examples, count, coherence, proposed change, estimated impact."""
    doc = _ext("learning").store.suggestion(suggestion_id)
    if doc is None:
        click.secho(f"NOT FOUND: no suggestion {suggestion_id!r}", fg="red", err=True)
        sys.exit(1)
    doc = {k: v for k, v in doc.items() if k != "item_ids"}
    click.echo(json.dumps(doc, indent=2, default=str))


@learning_cli.command("approve")
@click.argument("suggestion_id")
@click.option("--change", "change_path", type=click.Path(exists=True, dir_okay=False),
              help="A YAML/JSON file with the edited change to apply instead of the proposed one.")
def approve_cmd(suggestion_id: str, change_path: str | None) -> None:
    """Approve a suggestion and apply it (a new template version, or a compiled cheat-sheet draft)."""
    change = load_file(change_path) if change_path else None
    if change is not None and not isinstance(change, dict):
        click.secho("REFUSED: change: must be a mapping (the proposed change, as in the suggestion)", fg="red", err=True)
        sys.exit(1)
    doc = _run(lambda: _ext("learning_decisions").approve(suggestion_id, by="cli", change=change))
    click.echo(f"approved {suggestion_id}: " + json.dumps(doc["applied"], default=str))


@learning_cli.command("reject")
@click.argument("suggestion_id")
@click.option("--note", default="", help="Why (kept with the decision).")
def reject_cmd(suggestion_id: str, note: str) -> None:
    """Reject a suggestion (its turns leave the queue; nothing changes)."""
    _run(lambda: _ext("learning_decisions").reject(suggestion_id, by="cli", note=note))
    click.echo(f"rejected {suggestion_id}")


@learning_cli.command("versions")
@click.argument("template_id")
def versions_cmd(template_id: str) -> None:
    """List a scenario template's kept versions."""
    for v in current_app.extensions["catalog"].templates.versions(template_id):
        click.echo(f"{v['version']:>4}{' *' if v['current'] else '  '} {v['at']}  {v['by']}  {v['reason']}")


@learning_cli.command("revert")
@click.argument("template_id")
@click.argument("version", type=click.IntRange(1))
def revert_cmd(template_id: str, version: int) -> None:
    """Make an earlier template version current again."""
    saved = _run(lambda: current_app.extensions["catalog"].templates.revert(template_id, version, by="cli"))
    click.echo(f"template {template_id}: version {saved['version']} is version {version}'s content")


@learning_cli.command("network")
@click.argument("trade")
@click.option("--run/--no-run", default=True, show_default=True, help="Pool the companies' suggestions first.")
def network_cmd(trade: str, run: bool) -> None:
    """Network suggestions of a trade's opt-in companies (at least 3 companies, coherence and quality)."""
    if run:
        result = _ext("learning").run_network(trade, now=_now())
        click.echo(f"{result['companies']} opt-in companies, {result['suggestions']} network suggestion(s)")
    for s in _ext("learning").store.list_network({"trade": trade}):
        click.echo(f"{s['_id']}  {s['status']:<8} {s['kind']:<15} {s.get('scenario') or ''}  {s['companies']} companies  "
                   f"coherence {s['coherence']:.2f} quality {s['quality']:.2f}  keywords {', '.join(s['keywords'])}")
