"""The jobs list's filter and a job page's data, as plain dicts (the page and /api/jobs/{id} share them)."""

from __future__ import annotations

from typing import Any

from app.job_records import PHASES, JobRecord


def filter_records(
    records: list[JobRecord], repo: str = "", kind: str = "", outcome: str = ""
) -> list[JobRecord]:
    """Exact matches on repo (owner/name, any case), kind and outcome ("running" matches unfinished)."""
    out = []
    for r in records:
        if repo and r.repo.lower() != repo.lower():
            continue
        if kind and r.kind != kind:
            continue
        if outcome and (r.outcome or r.status) != outcome:
            continue
        out.append(r)
    return out


def status_text(record: JobRecord) -> str:
    return f"{record.status} · {record.outcome}" if record.outcome else record.status


def job_row(record: JobRecord) -> dict[str, Any]:
    return {"job_id": record.job_id, "kind": record.kind, "repo": record.repo, "status": record.status,
            "outcome": record.outcome, "reason": record.reason, "created_at": record.created_at,
            "updated_at": record.updated_at, "tries": record.tries, "status_text": status_text(record),
            "seconds": round(record.updated_at - record.created_at, 3)}  # fmt: skip


def timeline(record: JobRecord) -> list[dict[str, Any]]:
    order = {name: i for i, name in enumerate(PHASES)}
    phases = sorted(record.phases, key=lambda p: (p.started_at, order.get(p.name, 99)))
    return [{"name": p.name, "status": p.status, "outcome": p.outcome, "seconds": p.seconds,
             "started_at": p.started_at, "tries": p.tries, "detail": p.detail} for p in phases]  # fmt: skip


def github_links(record: JobRecord, links: dict[str, Any], web: str) -> dict[str, str]:
    """Where the job lives on GitHub: the repo, the failing check or issue, and what the job made."""
    out = {"repository": f"{web}/{record.repo}"}
    request = record.request
    if request.get("check_run_id"):
        out["check run"] = f"{web}/{record.repo}/runs/{request['check_run_id']}"
    if request.get("number"):
        out["issue or pull request"] = f"{web}/{record.repo}/issues/{request['number']}"
    if request.get("head_sha"):
        out["commit"] = f"{web}/{record.repo}/commit/{request['head_sha']}"
    for name, url in links.items():
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            out[name.replace("_", " ")] = url
    return out


def model_totals(calls: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "dollars", "seconds")
    return {k: round(sum(float(c.get(k) or 0) for c in calls), 6) for k in keys}


def job_detail(
    record: JobRecord, artefacts: dict[str, Any], audit: list[dict[str, Any]], web: str
) -> dict[str, Any]:
    calls = list(artefacts.get("model_calls", []))
    sandbox = artefacts.get("sandbox") or []
    verdicts = artefacts.get("verdicts") or []
    candidates = []
    for c in artefacts.get("candidates") or []:
        cid = c.get("id")
        candidates.append(c | {"sandbox": [s for s in sandbox if s.get("candidate") == cid],
                               "verdicts": [v for v in verdicts if v.get("candidate") == cid]})  # fmt: skip
    return job_row(record) | {
        "request": record.request,
        "phases": timeline(record),
        "report": artefacts.get("report"),
        "localization": artefacts.get("localization") or [],
        "candidates": candidates,
        "baseline": [s for s in sandbox if s.get("candidate") == "baseline"],
        "model_calls": calls,
        "model_totals": model_totals(calls),
        "audit": audit,
        "links": github_links(record, artefacts.get("links") or {}, web),
    }
