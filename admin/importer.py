"""Import companies and scenario templates from YAML/JSON files (CLI and the demo seed)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from policy.source import load_file
from records.catalog import Catalog

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DEMO_COMPANY = EXAMPLES / "companies" / "demo-hvac.yaml"


def template_file(name: str) -> Path | None:
    """The shipped file of a scenario template, if there is one."""
    path = EXAMPLES / "scenarios" / f"{name}.yaml"
    return path if path.is_file() else None


def import_company(catalog: Catalog, path: str | Path, *, activate: bool = True,
                   template: str | Path | None = None, by: str = "import") -> dict[str, Any]:
    """Import a company file: the company, its scenario template, and its cheat sheet compiled and activated.

    Raises PolicyError (nothing stored) when the company, template or cheat sheet is invalid.
    """
    doc = load_file(path)
    result: dict[str, Any] = {"company": doc.get("id") if isinstance(doc, dict) else None}
    name = doc.get("scenarioTemplate") if isinstance(doc, dict) else None
    tpath = Path(template) if template else (template_file(name) if name else None)
    tdoc = load_file(tpath) if tpath else None
    policy_doc = doc if isinstance(doc, dict) else {}
    record, created = catalog.put_company(policy_doc, by=by, template=tdoc)
    result["created"] = created
    if tdoc is not None:
        result["template"] = tdoc.get("id")
    if policy_doc.get("cheatSheet") is not None:
        compiled = catalog.policies.compile_latest(record["_id"], owner=f"import:{os.getpid()}")
        result["compiled"] = compiled
        if activate:
            result["active"] = catalog.policies.activate(record["_id"], compiled["version"], by=by)
    return result


def seed_demo(catalog: Catalog) -> bool:
    """Load the demo company on the first run of the embedded default (safe with several workers)."""
    owner = f"seed:{os.getpid()}"

    def seeded() -> bool:
        # The company with its policy active: the company alone is written before its policy is compiled.
        record = catalog.companies.get("demo-hvac", fresh=True)
        return record is not None and bool(record.get("active"))

    if seeded():
        return False
    if not catalog.locks.acquire("seed-demo", owner, ttl=30):
        # Another worker is seeding: wait for it, so this worker never answers the demo number
        # as "not in service" (or with the safe default) during the first start.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not seeded():
            time.sleep(0.05)
        return False
    try:
        if catalog.companies.get("demo-hvac", fresh=True) is not None:
            return False
        import_company(catalog, DEMO_COMPANY, by="seed")
        log.warning("loaded the demo company demo-hvac (number +15125550100) into the embedded store")
        return True
    finally:
        catalog.locks.release("seed-demo", owner)
