"""`cicatrix knowledge matrix`: the safety matrix (condition x treatment) as a table, CSV or Markdown.

The Markdown rendering of the bundled data is checked in as docs/safety-matrix.md, the one page a
clinician reviews; a test fails when it is stale.
"""

from __future__ import annotations

import csv
import io

from rich import box
from rich.console import Console
from rich.table import Table

from cicatrix.knowledge.models import Decision, KnowledgeBase

LETTER = {"exclude": "X", "delay": "D", "warn": "W", "none": "-"}
LEGEND = (
    ("X", "exclude", "never in the plan or the course; a clinician override with a reason is the only way back"),
    (
        "D",
        "delay",
        "every session is booked on or after a date derived from the case (excluded beyond the plan's maximum wait)",
    ),
    ("W", "warn", "stays, with a warning; `+` means the decision also adds care steps"),
    ("-", "none", "no known interaction; the evidence level says how that is known"),
)
COLUMNS = (
    "condition",
    "treatment",
    "decision",
    "evidence_level",
    "sources",
    "declared_by",
    "file",
    "wait",
    "added_steps",
    "message",
)


def cell_text(d: Decision) -> str:
    """A cell as the grid shows it: decision letter, `+` when it adds steps, evidence level."""
    return f"{LETTER[d.decision]}{'+' if d.add_steps else ''} {d.evidence_level}"


def _wait(d: Decision) -> str:
    if d.wait is None:
        return ""
    parts = [f"{d.wait.months} months"] * bool(d.wait.months) + [f"{d.wait.days} days"] * bool(d.wait.days)
    return f"{' '.join(parts)} after {d.wait.after.replace('_', ' ')}"


def matrix_csv(kb: KnowledgeBase) -> str:
    """One row per cell, every field a reviewer or a spreadsheet needs."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for code, row in kb.matrix.items():
        for tid, cell in row.items():
            d = kb.decision(code, tid)
            w.writerow(
                (
                    code,
                    tid,
                    d.decision,
                    d.evidence_level,
                    " ".join(d.sources),
                    cell.via,
                    cell.file,
                    _wait(d),
                    " ".join(s.code or "" for s in d.add_steps),
                    d.message or d.note or "",
                )
            )
    return out.getvalue()


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def matrix_markdown(kb: KnowledgeBase) -> str:
    """The review page: legend, groups, the grid, then every decision with its reasons."""
    conditions = list(kb.matrix)
    out = [
        "# Safety matrix",
        "",
        "<!-- Generated from src/cicatrix/knowledge/data (safety/, groups.yaml, conditions.yaml).",
        "     Do not edit: run `cicatrix knowledge matrix --format markdown > docs/safety-matrix.md`. -->",
        "",
        f"Knowledge base {kb.version}. Every condition (column) has one decision for every treatment (row).",
        "The loader refuses a knowledge base with an undeclared or ambiguous cell; see",
        "[knowledge.md](knowledge.md#the-safety-matrix) for how decisions are written and overridden.",
        "",
        "## Legend",
        "",
        "| cell | decision | meaning |",
        "|---|---|---|",
        *(f"| `{letter}` | {name} | {meaning} |" for letter, name, meaning in LEGEND),
        "",
        "After the letter comes the evidence level: `V` seen in a peer-reviewed source, `V-low` only on a",
        "clinic or consumer page, `U` an unconfirmed cicatrix default (an inference or a conservative",
        "choice a clinic should review), `protocol` a clinic protocol.",
        "",
        "## Conditions",
        "",
        "| column | condition | applies when |",
        "|---|---|---|",
    ]
    for n, code in enumerate(conditions, start=1):
        c = kb.conditions[code]
        out.append(f"| {n} | `{code}` {c.name} | {_md(c.description)} |")
    out += ["", "## The matrix", ""]
    out.append("| treatment | " + " | ".join(str(n) for n in range(1, len(conditions) + 1)) + " |")
    out.append("|---|" + "---|" * len(conditions))
    for tid in kb.treatments:
        cells = " | ".join(f"`{cell_text(kb.decision(code, tid))}`" for code in conditions)
        out.append(f"| `{tid}` | {cells} |")
    out += [
        "",
        "## Treatment groups",
        "",
        "A decision may name a group; a decision naming the treatment itself wins.",
        "",
    ]
    out += ["| group | meaning | treatments |", "|---|---|---|"]
    for gid, g in kb.groups.items():
        members = ", ".join(f"`{tid}`" for tid, t in kb.treatments.items() if gid in t.groups)
        out.append(f"| `{gid}` {g.name} | {_md(g.description)} | {members} |")
    out += ["", "## Decisions", ""]
    for code in conditions:
        out += [f"### {kb.conditions[code].name} (`{code}`)", ""]
        for i, d in enumerate(kb.safety[code].decisions):
            covered = sorted(tid for tid, cell in kb.matrix[code].items() if cell.decision == i)
            if not covered:
                continue
            names = [f"`{t}`" for t in d.treatments] + [f"group `{g}`" for g in d.groups]
            head = f"- **{d.decision}** ({d.evidence_level}; {', '.join(d.sources)}) for {', '.join(names)}"
            if _wait(d):
                head += f"; waits {_wait(d)}"
            out.append(head + (f": {_md(d.message)}" if d.message else ""))
            if d.note:
                out.append(f"  - Note: {_md(d.note)}")
            for s in d.add_steps:
                uses = f" (uses {', '.join(s.uses)})" if s.uses else ""
                out.append(
                    f"  - Adds step `{s.code}`, day {s.offset}{f' to {s.until}' if s.until is not None else ''}{uses}"
                )
            out.append(f"  - Cells: {', '.join(f'`{t}`' for t in covered)}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def print_matrix(kb: KnowledgeBase, console: Console | None = None) -> None:
    """The grid for a terminal: treatments down, conditions across (decision letters only, so it
    fits a terminal), then the legend."""
    console = console or Console()
    table = Table(title=f"Safety matrix (knowledge {kb.label})", box=box.SIMPLE_HEAD, padding=(0, 0), pad_edge=False)
    table.add_column("treatment", no_wrap=True, overflow="ellipsis", max_width=28)
    conditions = list(kb.matrix)
    style = {"X": "bold red", "D": "yellow", "W": "cyan", "-": "dim"}
    for n, _code in enumerate(conditions, start=1):
        table.add_column(f"{n:>2}", no_wrap=True, justify="center", min_width=3)
    for tid in kb.treatments:
        cells = []
        for code in conditions:
            d = kb.decision(code, tid)
            letter = LETTER[d.decision]
            cells.append(f"[{style[letter]}]{letter}{'+' if d.add_steps else ''}[/]")
        table.add_row(tid, *cells)
    console.print(table)
    for n, code in enumerate(conditions, start=1):
        console.print(f"{n:>2}  {code}: {kb.conditions[code].name}", markup=False)
    console.print("")
    for letter, name, meaning in LEGEND:
        console.print(f"{letter}  {name}: {meaning}", markup=False)
    console.print(
        "Details: `cicatrix knowledge matrix --format markdown`; one row per cell: `--format csv`.", markup=False
    )
