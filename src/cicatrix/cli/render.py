"""Human renderings of plans and knowledge: Rich for the terminal, Markdown for notes."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from cicatrix.engine.result import Plan, Scores
from cicatrix.knowledge.frozen import non_defaults
from cicatrix.knowledge.models import KnowledgeBase


def _cite(kb: KnowledgeBase, ids: tuple[str, ...]) -> str:
    return "; ".join(kb.sources[i].citation if i in kb.sources else i for i in ids)


def print_scores(scores: Scores, markdown: bool = False, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="Scores", show_lines=False)
    for col in ("scale", "row / item", "count", "×/grade", "points"):
        table.add_column(col)
    for r in scores.goodman_baron_quantitative_rows:
        factor = f"×{r.multiplier}" if r.multiplier else f"{r.area_cm2} cm²"
        if r.multiplier and r.area_cm2 is not None:  # a row decided by area (broad atrophic areas)
            factor += f" ({r.area_cm2} cm²)"
        table.add_row("Goodman & Baron", r.label, str(r.count), factor, str(r.points))
    table.add_row("Goodman & Baron", "[b]total[/b]", "", "", f"[b]{scores.goodman_baron_quantitative}[/b]")
    for r in scores.ecca_items:
        table.add_row("ECCA", r.label, str(r.count), f"grade {r.grade}", str(r.points))
    table.add_row("ECCA", "[b]total[/b]", "", "", f"[b]{scores.ecca}[/b]")
    console.print(table)
    qual = scores.goodman_baron_qualitative
    console.print(
        f"Qualitative grade: {qual if qual is not None else 'not given'}   "
        f"Severity: [b]{scores.severity or 'none recorded'}[/b] ({scores.severity_basis})"
    )
    for w in scores.warnings:
        console.print(f"[yellow]! {w.message}[/yellow]")


def print_plan(plan: Plan, kb: KnowledgeBase, title: str | None = None, console: Console | None = None) -> None:
    console = console or Console()
    head = f"cicatrix plan{f': {title}' if title else ''}  (knowledge {plan.knowledge_version})"
    console.print(Panel(plan.notice, title=head, border_style="cyan"))
    print_scores(plan.scores, console=console)
    for w in plan.warnings:
        console.print(f"[bold yellow]Warning[/bold yellow] [{w.code}] {w.message}")
    rec = Table(title="Recommended (ranked)", show_lines=True)
    for col in ("#", "treatment", "targets", "why", "warnings", "scheduled"):
        rec.add_column(col)
    for r in plan.recommended:
        warn = "\n".join(f"[{w.code}] {w.message}" for w in r.warnings)
        why = f"{r.rationale}\n[dim]{r.evidence_level}: {', '.join(r.sources)}[/dim]"
        rec.add_row(str(r.rank), r.name, ", ".join(r.targets), why, warn, "yes" if r.scheduled else "")
    console.print(rec)
    if plan.excluded:
        exc = Table(title="Excluded (never scheduled)", show_lines=True)
        exc.add_column("treatment")
        exc.add_column("reasons")
        for e in plan.excluded:
            exc.add_row(e.name, "\n".join(f"[{m.code}] {m.message}" for m in e.reasons))
        console.print(exc)
    course = Table(title="Course")
    for col in ("date", "session", "window"):
        course.add_column(col)
    for s in plan.course.sessions:
        window = f"{s.earliest} … {s.latest}" if s.latest else ""
        course.add_row(s.date.isoformat(), f"{kb.treatments[s.treatment].name} #{s.number}", window)
    for m in plan.course.maintenance:
        course.add_row(m.date.isoformat(), f"{kb.treatments[m.treatment].name}: maintenance", m.text)
    if plan.course.follow_up:
        course.add_row(plan.course.follow_up.isoformat(), "Follow-up assessment", "")
    console.print(course)
    for n in plan.course.notes:
        console.print(f"[yellow]Course note[/yellow] [{n.code}] {n.message}")
    tl = Table(title="Day-by-day timeline")
    for col in ("from", "until", "kind", "instruction"):
        tl.add_column(col)
    for e in plan.timeline:
        tl.add_row(e.date.isoformat(), e.until.isoformat() if e.until else "", e.kind, e.text)
    console.print(tl)
    for ed in plan.education:
        console.print(f"[green]{ed.topic}[/green]: {ed.text}")


def plan_markdown(plan: Plan, kb: KnowledgeBase) -> str:
    out = [f"# Treatment plan ({plan.case_id or 'case'})", "", f"> {plan.notice}", ""]
    s = plan.scores
    qual = s.goodman_baron_qualitative
    out += [
        "## Scores",
        "",
        f"- Goodman & Baron quantitative: **{s.goodman_baron_quantitative}**",
        f"- ECCA: **{s.ecca}**",
        f"- Goodman & Baron qualitative: {qual if qual is not None else 'not given'}",
        f"- Severity: **{s.severity or 'none recorded'}** ({s.severity_basis})",
        "",
    ]
    if plan.warnings:
        out += ["## Warnings", ""] + [f"- **{w.code}**: {w.message}" for w in plan.warnings] + [""]
    out += ["## Recommended", "", "| # | Treatment | Targets | Why | Sources | Warnings |", "|---|---|---|---|---|---|"]
    for r in plan.recommended:
        warn = "<br>".join(f"{w.code}: {w.message}" for w in r.warnings)
        out.append(
            f"| {r.rank} | {r.name}{' (scheduled)' if r.scheduled else ''} | {', '.join(r.targets)} | "
            f"{r.rationale} | {r.evidence_level}: {_cite(kb, r.sources)} | {warn} |"
        )
    out.append("")
    if plan.excluded:
        out += ["## Excluded", ""]
        out += [f"- **{e.name}**: " + "; ".join(f"{m.code}: {m.message}" for m in e.reasons) for e in plan.excluded]
        out.append("")
    out += ["## Course", ""]
    out += [f"- {x.date}: {kb.treatments[x.treatment].name}, session {x.number}" for x in plan.course.sessions]
    out += [f"- {m.date}: {kb.treatments[m.treatment].name} maintenance: {m.text}" for m in plan.course.maintenance]
    if plan.course.follow_up:
        out.append(f"- {plan.course.follow_up}: follow-up assessment")
    out += ["", "## Day by day", "", "| From | Until | Kind | Instruction |", "|---|---|---|---|"]
    out += [f"| {e.date} | {e.until or ''} | {e.kind} | {e.text} |" for e in plan.timeline]
    out += ["", "## For the patient", ""] + [f"- **{e.topic}**: {e.text}" for e in plan.education]
    return "\n".join(out) + "\n"


_KINDS = (
    "treatments",
    "groups",
    "scar_types",
    "marks",
    "lesions",
    "conditions",
    "vocabulary",
    "phototypes",
    "education",
    "sources",
)


def print_knowledge_list(kb: KnowledgeBase, kind: str | None, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"knowledge base {kb.label}")
    for k in (kind,) if kind else _KINDS:
        if k not in _KINDS:
            from cicatrix.cli.io import fail

            fail(f"--kind: unknown kind {k!r} (known: {', '.join(_KINDS)})")
        table = Table(title=k)
        table.add_column("id")
        table.add_column("name")
        table.add_column("evidence")
        table.add_column("override")
        for eid, entry in getattr(kb, k).items():
            name = (
                getattr(entry, "name", None)
                or getattr(entry, "title", None)
                or getattr(entry, "label", None)
                or getattr(entry, "citation", "")
            )
            level = getattr(entry, "evidence_level", "") or ""
            table.add_row(eid, str(name), level, kb.overridden.get(f"{k}:{eid}", ""))
        console.print(table)


def find_entry(kb: KnowledgeBase, entry_id: str) -> tuple[str, Any] | None:
    for k in _KINDS:
        coll = getattr(kb, k)
        if entry_id in coll:
            return k, coll[entry_id]
    return None


def print_knowledge_entry(kb: KnowledgeBase, entry_id: str, console: Console | None = None) -> bool:
    import yaml

    found = find_entry(kb, entry_id)
    if found is None:
        return False
    kind, entry = found
    console = console or Console()
    data = non_defaults(entry)
    console.print(
        f"# {kind}: {entry_id}"
        + (f"  (overridden by {kb.overridden[f'{kind}:{entry_id}']})" if f"{kind}:{entry_id}" in kb.overridden else "")
    )
    console.print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), markup=False)
    if kind in ("conditions", "treatments"):
        _print_cells(kb, kind, entry_id, console)
    cited = sorted({s for s in _all_sources(data)} & set(kb.sources))
    if cited:
        console.print("Sources:")
        for s in cited:
            console.print(f"  {s}: {kb.sources[s].citation}", markup=False)
    return True


def _print_cells(kb: KnowledgeBase, kind: str, entry_id: str, console: Console) -> None:
    """The entry's row (a condition) or column (a treatment) of the safety matrix."""
    pairs = [(entry_id, tid) for tid in kb.treatments] if kind == "conditions" else [(c, entry_id) for c in kb.matrix]
    console.print("Safety matrix (see `cicatrix knowledge matrix`):")
    for code, tid in pairs:
        d = kb.decision(code, tid)
        other = tid if kind == "conditions" else code
        console.print(f"  {d.decision:<7} {other} ({d.evidence_level}): {d.message or d.note or ''}", markup=False)


def _all_sources(data: Any) -> list[str]:
    if isinstance(data, dict):
        out = list(data.get("sources", [])) if isinstance(data.get("sources"), list) else []
        for v in data.values():
            out += _all_sources(v)
        return out
    if isinstance(data, list):
        return [s for v in data for s in _all_sources(v)]
    return []
