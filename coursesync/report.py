"""How run documents look in a terminal: a progress line and a summary."""

from __future__ import annotations

from typing import Any

__all__ = ["dry_run_summary", "exit_code", "progress_line", "summary"]

EXIT_OK, EXIT_ITEMS, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3


def exit_code(doc: dict[str, Any]) -> int:
    """product.md: 0 every item ended well; 1 failed or invalid items, or the run failed."""
    c = doc["counts"]
    if doc["state"] == "completed" and c["failed"] == 0 and c["invalid"] == 0:
        return EXIT_OK
    return EXIT_ITEMS


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = int(width * done / total) if total else 0
    return "#" * filled + "-" * (width - filled)


def progress_line(doc: dict[str, Any]) -> str:
    c, b = doc["counts"], doc["batches"]
    settled = c["total"] - c["pending"]
    return (
        f"[{_bar(settled, c['total'])}] {settled:,}/{c['total']:,} items  "
        f"ok {c['succeeded']:,}  failed {c['failed']:,}  invalid {c['invalid']:,}  "
        f"unchanged {c['unchanged']:,}  batches {b['completed'] + b['failed']}/{b['total']}  {doc['state']}"
    )


def summary(doc: dict[str, Any], *, max_errors: int = 10) -> str:
    c, b = doc["counts"], doc["batches"]
    lines = [
        f"run {doc['run_id']} on {doc['connection']} ({doc['provider']}): {doc['state']}",
        f"  items    {c['total']:,} read: {c['succeeded']:,} succeeded, {c['failed']:,} failed, "
        f"{c['invalid']:,} invalid, {c['unchanged']:,} unchanged, "
        + (f"{c['excluded']:,} excluded, " if c.get("excluded") else "")
        + f"{c['pending']:,} pending",
        f"  batches  {b['total']:,}: {b['completed']:,} completed, {b['failed']:,} failed, "
        f"{b['submitted']:,} at the provider, {b['pending']:,} waiting",
        f"  started  {doc['created_at']}  finished {doc['finished_at'] or '-'}",
    ]
    if doc.get("target"):
        lines.append(f"  target   {doc['target']} ({doc.get('target_label') or '?'})")
    if doc.get("reason"):
        lines.append(f"  reason   {doc['reason']}")
    if doc.get("paused"):
        lines.append(f"  paused   nothing is sent until `coursesync resume {doc['connection']}`")
    if doc.get("cancel_requested_at"):
        lines.append(f"  cancelled at {doc['cancel_requested_at']}: nothing more of it is sent")
    prune = doc.get("prune")
    if prune:
        lines.append(
            f"  prune    {prune['candidates']:,} gone from the catalog: {prune['succeeded']:,} deactivated, "
            f"{prune['failed']:,} failed" + (f"; {prune['refused']}" if prune["refused"] else "")
        )
    errors = doc.get("errors") or []
    if errors:
        lines.append(
            f"  first errors ({len(errors)} listed; "
            f"`coursesync status {doc['run_id']} --items errors` for all):"
        )
        for e in errors[:max_errors]:
            where = f" line {e['line']}" if e.get("line") else ""
            lines.append(f"    {e['item_id']}{where} [{e['stage']}/{e['code']}] {e['message']}")
        if len(errors) > max_errors:
            lines.append(
                f"    ... {len(errors) - max_errors} more in `coursesync status {doc['run_id']} --json`"
            )
    return "\n".join(lines)


def dry_run_summary(report: dict[str, Any], *, max_errors: int = 10) -> str:
    lines = [
        f"dry run on {report['connection']} ({report['provider']}): nothing was sent",
        f"  {report['total']:,} items read: would create {report['created']:,}, "
        f"update {report['updated']:,}, leave {report['unchanged']:,} unchanged; "
        f"{report['rejected']:,} invalid",
        f"  target {report['target']} ({report['target_label']})",
    ]
    if "pruned" in report:
        refused = report.get("prune_refused")
        lines.append(f"  prune: {refused}" if refused else f"  prune: would deactivate {report['pruned']:,}")
    if report.get("fatal"):
        lines.append(f"  catalog problem: {report['fatal']}")
    for e in report["errors"][:max_errors]:
        where = f" line {e['line']}" if e.get("line") else ""
        lines.append(f"    {e['item_id']}{where} {e['message']}")
    return "\n".join(lines)
