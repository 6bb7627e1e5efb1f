"""Staff commands: ``flask policy check|try``, ``flask company import|template``, ``flask calls show|list``."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

import policy
from policy.references import company_warnings
from policy.harness import run_golden
from policy.source import load_file

policy_cli = AppGroup("policy", help="Check, compile and try cheat sheets.")


def _load(path: str, company_path: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A file holds either a bare cheat sheet or a company document with ``cheatSheet`` inside."""
    doc = load_file(path)
    if isinstance(doc, dict) and "cheatSheet" in doc:
        company = {k: v for k, v in doc.items() if k != "cheatSheet"}
        sheet = doc["cheatSheet"] or {}
    else:
        company, sheet = {}, doc
    if company_path:
        company = load_file(company_path)
        if isinstance(company, dict):
            company = {k: v for k, v in company.items() if k != "cheatSheet"}
    if company:
        policy.validate_company(company)
    return sheet, company


def _errors(exc: policy.PolicyError) -> None:
    click.secho(f"REFUSED: {len(exc.errors)} error(s); nothing was compiled", fg="red", err=True)
    for e in exc.errors:
        click.echo(f"  {e['path'] or '(document)'}: {e['message']}", err=True)


@policy_cli.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--company", "company_path", type=click.Path(exists=True, dir_okay=False),
              help="Company document to run the golden tests against.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(path: str, company_path: str | None, as_json: bool) -> None:
    """Validate and compile a cheat sheet; print checksum, conflicts, warnings and golden tests."""
    try:
        sheet, company = _load(path, company_path)
        compiled = policy.compile_cheatsheet(sheet)
    except policy.PolicyError as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "errors": exc.errors}, indent=2))
        else:
            _errors(exc)
        sys.exit(1)
    results = run_golden(compiled, company)
    failed = [r for r in results if not r["passed"]]
    report = compiled.to_artifact()["report"]
    if as_json:
        click.echo(json.dumps({"ok": not failed, "version": compiled.version, "checksum": compiled.checksum,
                               **report, "tests": [{k: v for k, v in r.items() if k != "decision"} for r in results]},
                              indent=2))
        sys.exit(1 if failed else 0)
    click.echo(f"compiled: version {compiled.version}")
    click.echo(f"checksum: {compiled.checksum}")
    stats = report["stats"]
    click.echo(f"rules:    {stats['edgeCases']} edge cases, {stats['transferRules']} transfer rules "
               f"({stats['disabled']} disabled)")
    click.echo(f"conflicts: {len(report['conflicts'])}")
    for c in report["conflicts"]:
        click.echo(f"  {c['type']}: {c['message']}")
    warnings = company_warnings(report, company)
    click.echo(f"warnings: {len(warnings)}")
    for w in warnings:
        click.echo(f"  {w['path']}: {w['message']}")
    if report["variables"]:
        click.echo("variables used: " + ", ".join(report["variables"]))
    click.echo(f"golden tests: {len(results) - len(failed)}/{len(results)} passed")
    for r in failed:
        click.secho(f"  FAIL {r['name']}: " + "; ".join(r["failures"]), fg="red")
    sys.exit(1 if failed else 0)


@policy_cli.command("try")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.argument("utterance", nargs=-1, required=True)
@click.option("--company", "company_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--base", default="How can I help you today?", show_default=True, help="The scenario's base answer.")
@click.option("--base-action", default=None, help="An action the base answer proposes (e.g. BOOK_APPT).")
@click.option("--caller-type", type=click.Choice(["new", "existing", "vendor", "unknown"]), default="unknown")
@click.option("--spam-flag", "spam_flags", multiple=True, help="A spam flag on the caller (repeatable).")
@click.option("--first-turn", is_flag=True, help="Treat this as the call's first turn.")
@click.option("--now", "now_text", default=None, help="The turn's time, ISO 8601 (default: now).")
@click.option("--json", "as_json", is_flag=True)
def try_(path: str, utterance: tuple[str, ...], company_path: str | None, base: str, base_action: str | None,
         caller_type: str, spam_flags: tuple[str, ...], first_turn: bool, now_text: str | None, as_json: bool) -> None:
    """Run one caller utterance through a compiled cheat sheet and print the decision."""
    try:
        sheet, company = _load(path, company_path)
        compiled = policy.compile_cheatsheet(sheet)
    except policy.PolicyError as exc:
        _errors(exc)
        sys.exit(1)
    try:
        now = datetime.fromisoformat(now_text) if now_text else datetime.now(timezone.utc)
    except ValueError:
        raise click.BadParameter(f"{now_text!r} is not an ISO 8601 time", param_hint="--now") from None
    profile = policy.CompanyProfile.from_dict(company)
    if now.tzinfo is None:
        now = now.replace(tzinfo=profile.tz)
    ctx = policy.TurnContext(company=profile, now=now, caller_type=caller_type, spam_flags=spam_flags,
                             is_first_turn=first_turn)
    decision = policy.apply(compiled, " ".join(utterance), policy.BaseResponse(base, action=base_action), ctx)
    if as_json:
        click.echo(json.dumps(decision.to_dict(), indent=2, default=str))
        return
    d = decision
    click.echo(f"action:    {d.action}" + ("  (short-circuit)" if d.short_circuit else ""))
    click.echo(f"says:      {d.response}")
    if d.action == "TRANSFER":
        where = d.transfer_phone or (f"queue {d.transfer_queue}" if d.transfer_queue else d.transfer_sip)
        click.echo(f"transfer:  {d.transfer_target} -> {where}")
        if d.collect_entities:
            click.echo("collects:  " + ", ".join(f"{e['name']} ({e['type']})" for e in d.collect_entities))
    click.echo("blocks:    " + (", ".join(f"{b['type']}:{b['id']}" for b in d.applied_blocks) or "none"))
    if d.matched_pattern:
        click.echo(f"matched:   {d.matched_pattern}")
    if d.guardrails_fired:
        click.echo("guardrails: " + ", ".join(d.guardrails_fired))
    if d.tags:
        click.echo("tags:      " + ", ".join(d.tags))
    for effect in d.side_effects:
        click.echo(f"effect:    {effect['type']} " + json.dumps({k: v for k, v in effect.items() if k not in ('type', 'source')},
                                                              default=list))
    click.echo(f"time:      {d.elapsed_ms:.3f} ms")


company_cli = AppGroup("company", help="Import companies and scenario templates into the store.")


@company_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--template", "template_path", type=click.Path(exists=True, dir_okay=False),
              help="The scenario template file (default: examples/scenarios/<scenarioTemplate>.yaml).")
@click.option("--activate/--no-activate", default=True, show_default=True,
              help="Make the compiled cheat sheet the active policy.")
def import_company_cmd(path: str, template_path: str | None, activate: bool) -> None:
    """Import a company YAML/JSON file: company, scenario template, cheat sheet (compiled)."""
    from records.catalog import CompileBusy

    from .importer import import_company

    try:
        result = import_company(current_app.extensions["catalog"], path, activate=activate,
                                template=template_path)
    except policy.PolicyError as exc:
        _errors(exc)
        sys.exit(1)
    except CompileBusy as exc:
        click.secho(f"REFUSED: {exc}", fg="red", err=True)
        sys.exit(1)
    click.echo(f"company {result['company']}: {'created' if result['created'] else 'replaced'}")
    if result.get("template"):
        click.echo(f"scenario template {result['template']}: stored")
    if result.get("compiled"):
        c = result["compiled"]
        click.echo(f"cheat sheet version {c['version']}: compiled, checksum {c['checksum']}, "
                   f"{len(c['conflicts'])} conflict(s), {len(c['warnings'])} warning(s)")
    if result.get("active"):
        click.echo(f"active policy: version {result['active']['version']}")


@company_cli.command("template")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_template_cmd(path: str) -> None:
    """Import (or replace) a scenario template file."""
    try:
        tid = current_app.extensions["catalog"].templates.put(load_file(path))
    except policy.PolicyError as exc:
        _errors(exc)
        sys.exit(1)
    click.echo(f"scenario template {tid}: stored")


calls_cli = AppGroup("calls", help="Look at calls: a transcript with every turn's breakdown.")


@calls_cli.command("show")
@click.argument("call_sid")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON.")
def show_call(call_sid: str, as_json: bool) -> None:
    """Print one call as a readable transcript with the per-turn breakdown."""
    from .forensics import call_detail, transcript

    db = current_app.extensions["docstore"]
    call = db["calls"].find_one({"_id": call_sid}, {"company_id": 1})
    detail = call_detail(db, call["company_id"], call_sid, full_numbers=True) if call else None
    if detail is None:
        click.secho(f"no call {call_sid}", fg="red", err=True)
        sys.exit(1)
    click.echo(json.dumps(detail, indent=2, default=str) if as_json else transcript(detail))


@calls_cli.command("list")
@click.argument("company_id")
@click.option("--tag", default=None)
@click.option("--action", default=None)
@click.option("--tier", default=None)
@click.option("--limit", default=20, show_default=True)
def list_calls_cmd(company_id: str, tag: str | None, action: str | None, tier: str | None, limit: int) -> None:
    """List a company's latest calls (caller numbers masked)."""
    from .forensics import list_calls

    result = list_calls(current_app.extensions["docstore"], company_id, tag=tag, action=action, tier=tier,
                        per_page=limit)
    for c in result["calls"]:
        click.echo(f"{c['call_sid']}  {c['started_at']}  {c['from']}  {c['turns']} turns  "
                   f"{','.join(c['actions'])}  tags={','.join(c['tags'])}  ${c['cost']:.4f}")
    click.echo(f"{result['total']} call(s)")


@company_cli.command("add-pack")
@click.argument("company_id")
@click.option("--pack", default="enterprise", show_default=True, help="The edge-case pack to add.")
@click.option("--by", default="cli", show_default=True, help="Who adds it (audit metadata).")
def add_pack_cmd(company_id: str, pack: str, by: str) -> None:
    """Add a default edge-case pack to a company's cheat sheet, adapted to it, as a new draft."""
    from records.catalog import NotFound

    from .packs import add_pack_draft

    try:
        result = add_pack_draft(current_app.extensions["catalog"], company_id, pack=pack, by=by)
    except (NotFound, KeyError) as exc:
        click.secho(f"REFUSED: {exc.args[0] if exc.args else exc}", fg="red", err=True)
        sys.exit(1)
    except policy.PolicyError as exc:
        _errors(exc)
        sys.exit(1)
    if result["version"] is None:
        click.echo(f"nothing added: {company_id} already has " + ", ".join(result["skipped"]))
        return
    click.echo(f"cheat sheet version {result['version']} (draft): added " + ", ".join(result["added"])
               + (f"; kept the sheet's own {', '.join(result['skipped'])}" if result["skipped"] else ""))
    click.echo(f"next: compile and activate it (POST /admin/companies/{company_id}/cheatsheet/compile, then activate)")


@policy_cli.command("migrate")
@click.argument("company_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every company in the store.")
@click.option("--dry-run", is_flag=True, help="Show what would change; save nothing.")
@click.option("--by", default="migration", show_default=True, help="Who migrates (audit metadata).")
def migrate_cmd(company_ids: tuple[str, ...], every: bool, dry_run: bool, by: str) -> None:
    """Rewrite stored legacy edge cases (triggerPatterns, responseText) in the enterprise shape, as new drafts."""
    from records.catalog import NotFound

    from .packs import migrate_draft

    cat = current_app.extensions["catalog"]
    ids = list(company_ids) or ([r["_id"] for r in cat.companies.coll.find({}, {"_id": 1})] if every else [])
    if not ids:
        raise click.UsageError("name one or more companies, or --all")
    failed = False
    for cid in ids:
        try:
            result = migrate_draft(cat, cid, by=by, dry_run=dry_run)
        except NotFound as exc:
            click.secho(f"{cid}: {exc}", fg="red", err=True)
            failed = True
            continue
        except policy.PolicyError as exc:
            click.secho(f"{cid}: the migrated sheet does not validate", fg="red", err=True)
            _errors(exc)
            failed = True
            continue
        if not result["migrated"]:
            click.echo(f"{cid}: no legacy edge cases")
            continue
        what = "would migrate" if dry_run else f"version {result['version']} (draft) migrates"
        click.echo(f"{cid}: {what} " + ", ".join(f"{c['id']} ({c['name']})" for c in result["migrated"]))
    sys.exit(1 if failed else 0)
