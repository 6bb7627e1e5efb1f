"""``flask rollout deploy|status|promote|pause|resume|rollback|history|tick|try``: rollouts from the shell."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any, Callable

import click
from flask import current_app
from flask.cli import AppGroup
from pymongo.errors import PyMongoError

import policy
from policy.source import load_file
from records.catalog import Conflict, NotFound
from records.rollouts import GateRefused, Rollouts

rollout_cli = AppGroup("rollout", help="Deploy cheat-sheet versions safely: gate, shadow, canary, full, rollback.")


def _rollouts() -> Rollouts:
    return current_app.extensions["rollouts"]


def _when(t: float | None) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="seconds") if t else "-"


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.2f}%"


def _do(action: Callable[[], Any]) -> Any:
    """Run a rollout action; a refusal is printed (with the gate's report) and exits 1."""
    try:
        return action()
    except policy.PolicyError as exc:
        for e in exc.errors:
            click.secho(f"REFUSED: {e['path'] or '(plan)'}: {e['message']}", fg="red", err=True)
    except GateRefused as exc:
        click.secho("REFUSED by the gate", fg="red", err=True)
        print_report(exc.report)
    except (NotFound, Conflict) as exc:
        click.secho(f"REFUSED: {exc}", fg="red", err=True)
    except PyMongoError as exc:
        click.secho(f"the document store is unavailable, nothing was changed: {exc}", fg="red", err=True)
    sys.exit(1)


def print_status(s: dict[str, Any]) -> None:
    """A rollout status as text."""
    active, prev = s.get("active") or {}, s.get("previous")
    click.echo(f"company {s['company']}  revision {s['revision']}")
    click.echo(f"active:    version {active.get('version', '-')} ({(active.get('checksum') or '')[:12]})")
    if prev:
        kept = "expired" if prev["expired"] else f"kept until {_when(prev['until'])}"
        click.echo(f"previous:  version {prev['version']} ({kept}; `flask rollout rollback` restores it)")
    ro = s.get("rollout")
    if not ro:
        latest = s.get("latest")
        click.echo("rollout:   none running" + (f" (latest: version {latest['version']}, {latest['status']})"
                                                 if latest else ""))
        return
    stage = ro["plan"][ro["stage"]] if ro["stage"] in ro["plan"] else {}
    click.echo(f"rollout:   version {ro['version']}, stage {ro['stage']} (share {ro['share'] * 100:g}%)"
               f"{', PAUSED' if ro['paused'] else ''}, {ro['elapsed_s']:.0f} s in stage "
               f"(at least {stage.get('minDurationS', 0)} s and {stage.get('minSamples', 0)} {ro['unit']} per arm)")
    for arm, f in sorted(ro["arms"].items()):
        click.echo(f"  arm {arm:<8} {f['calls']} calls, {f['error_calls']} with errors, {f['error_turns']} error "
                   f"turns, {f['late_errors']} late errors")
    if ro["stage"] == "shadow":
        sh = ro["shadow"]
        click.echo(f"  shadowed  {sh['turns']} turns: candidate {sh['errors']} errors, active {sh['active_errors']}, "
                   f"{sh['differences']} decided differently")
    v = ro["verdict"]
    click.echo(f"  samples   candidate {v['candidate']['samples']}, active {v['active']['samples']} ({ro['unit']}); "
               f"error rates candidate {_pct(v['candidate']['error_rate'])}, active {_pct(v['active']['error_rate'])}")
    click.echo(f"  verdict   {v['outcome']}: {v['reason']}")
    click.echo(f"  next      {ro['next']}: {ro['why']}")


def print_report(r: dict[str, Any], *, limit: int = 20) -> None:
    """A gate report as text: the verdict, failures, differences and coverage."""
    click.secho(f"gate: {r['verdict']}", fg="green" if r["deployable"] else "red")
    click.echo("  " + "; ".join(f"{src}: {c['passed']} passed, {c['failed']} failed, {c['n/a']} n/a"
                                for src, c in r["counts"].items()))
    for c in r["cases"]:
        if c["status"] == "failed":
            click.secho(f"  FAIL{' [critical]' if c['critical'] else ''} {c['id']}: " + "; ".join(c["failures"]),
                        fg="red")
    diffs = r["differences"]
    click.echo(f"differences from the active policy: {len(diffs)}")
    for d in diffs[:limit]:
        parts = [f"{k} {d[k]['active']!r} -> {d[k]['candidate']!r}" for k in ("action", "text", "blocks") if k in d]
        click.echo(f"  {d['case']} ({d['utterance'][:60]!r}): " + "; ".join(parts))
    if len(diffs) > limit:
        click.echo(f"  ... and {len(diffs) - limit} more (--json for all)")
    cov = r["coverage"]
    click.echo(f"coverage: {len(cov['exercised'])} of {cov['rules']} rules exercised; guardrails fired: "
               f"{', '.join(cov['guardrails_fired']) or 'none'}")
    for n in cov["not_reached"]:
        click.echo(f"  not reached: {n['kind']} {n['id']}: {n['why']}")


def _out(result: Any, as_json: bool, text: Callable[[Any], None]) -> None:
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        text(result)


@rollout_cli.command("deploy")
@click.argument("company_id")
@click.argument("version", type=int)
@click.option("--plan", "plan_json", default=None, help='The plan as JSON: {"shadow": {"share": 0.05, '
              '"minDurationS": 300, "minSamples": 30}, "canary": {...}, "maxRatio": 1.5, "alpha": 0.0001}.')
@click.option("--skip-shadow", is_flag=True, help="Start with the canary (shadow share 0).")
@click.option("--canary-share", type=float, default=None, help="The canary's share of calls (0-1).")
@click.option("--retry", is_flag=True, help="Deploy a version that was rolled back before.")
@click.option("--by", default="cli", show_default=True, help="Who deploys (kept in the history).")
@click.option("--json", "as_json", is_flag=True)
def deploy_cmd(company_id: str, version: int, plan_json: str | None, skip_shadow: bool, canary_share: float | None,
               retry: bool, by: str, as_json: bool) -> None:
    """Deploy a compiled cheat-sheet version through the gate, then shadow -> canary -> full."""
    try:
        plan = json.loads(plan_json) if plan_json else {}
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--plan") from None
    if not isinstance(plan, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--plan")
    if skip_shadow:
        plan["shadow"] = {**plan.get("shadow", {}), "share": 0}
    if canary_share is not None:
        plan["canary"] = {**plan.get("canary", {}), "share": canary_share}
    result = _do(lambda: _rollouts().deploy(company_id, version, plan, by=by, retry=retry))
    _out(result, as_json, print_status)


@rollout_cli.command("status")
@click.argument("company_id")
@click.option("--json", "as_json", is_flag=True)
def status_cmd(company_id: str, as_json: bool) -> None:
    """Stage, shares, samples and error rates per arm, the verdict and why (judged now)."""
    _out(_do(lambda: _rollouts().status(company_id)), as_json, print_status)


@rollout_cli.command("promote")
@click.argument("company_id")
@click.option("--share", type=float, default=None, help="Raise the canary's share instead of moving on.")
@click.option("--by", default="cli", show_default=True)
def promote_cmd(company_id: str, share: float | None, by: str) -> None:
    """Move the rollout to its next stage now (or raise the canary's share)."""
    print_status(_do(lambda: _rollouts().promote(company_id, by=by, share=share)))


@rollout_cli.command("pause")
@click.argument("company_id")
@click.option("--by", default="cli", show_default=True)
def pause_cmd(company_id: str, by: str) -> None:
    """Hold the rollout in its stage (a regression still rolls it back)."""
    print_status(_do(lambda: _rollouts().pause(company_id, by=by)))


@rollout_cli.command("resume")
@click.argument("company_id")
@click.option("--by", default="cli", show_default=True)
def resume_cmd(company_id: str, by: str) -> None:
    """Let a paused rollout advance again."""
    print_status(_do(lambda: _rollouts().pause(company_id, by=by, paused=False)))


@rollout_cli.command("rollback")
@click.argument("company_id")
@click.option("--why", default="rolled back by staff", show_default=True)
@click.option("--by", default="cli", show_default=True)
def rollback_cmd(company_id: str, why: str, by: str) -> None:
    """Stop a running rollout, or restore the previous version (kept 24 h); every worker within 2 s."""
    print_status(_do(lambda: _rollouts().rollback(company_id, by=by, why=why)))


@rollout_cli.command("history")
@click.argument("company_id")
@click.option("--limit", default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def history_cmd(company_id: str, limit: int, as_json: bool) -> None:
    """The company's rollouts, newest first, with every move."""
    def text(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            click.echo(f"{_when(r['started_at'])}  version {r['version']}  {r['status']}  by {r['by']}  ({r['_id']})")
            for e in r.get("events") or ():
                click.echo(f"    {_when(e['at'])}  {e['what']:<8} {e.get('stage', ''):<7} by {e['by']}: {e['why']}")
    _out(_do(lambda: _rollouts().list_history(company_id, limit)), as_json, text)


@rollout_cli.command("tick")
@click.argument("company_id", required=False)
def tick_cmd(company_id: str | None) -> None:
    """Judge running rollouts now and move them on (run it every minute from cron or a scheduler)."""
    results = _do(lambda: [r for r in [_rollouts().tick(company_id)] if r] if company_id else _rollouts().tick_all())
    for r in results:
        if r["action"] == "skipped":
            click.secho(f"{r['company']}: skipped: {r['why']}", fg="red")
            continue
        click.echo(f"{r['company']}: version {r['version']} {r['stage']}: {r['action']}"
                   f"{'' if r['moved'] or r['action'] == 'hold' else ' (already moved elsewhere)'}: {r['why']}")
    if not results:
        click.echo("no rollout running")
    sys.exit(1 if any(r["action"] == "skipped" for r in results) else 0)


@rollout_cli.command("try")
@click.argument("company_id")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--version", type=int, default=None, help="A saved version instead of a file.")
@click.option("--json", "as_json", is_flag=True)
def try_cmd(company_id: str, path: str | None, version: int | None, as_json: bool) -> None:
    """What a draft (a file, not saved) or a saved version would do to the company's last 100 calls."""
    if (path is None) == (version is None):
        raise click.UsageError("give a cheat-sheet file or --version N")
    def draft() -> dict[str, Any]:
        doc = load_file(path)
        sheet = doc.get("cheatSheet") if isinstance(doc, dict) and "cheatSheet" in doc else doc
        return _rollouts().gate(company_id, policy.compile_cheatsheet(sheet))
    report = _do(lambda: _rollouts().try_version(company_id, version) if version is not None else draft())
    _out(report, as_json, print_report)
    sys.exit(0 if report["deployable"] else 1)
