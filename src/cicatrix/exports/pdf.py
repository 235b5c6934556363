"""The patient handout: a printable PDF of the plan, rendered by WeasyPrint from a Jinja2 template.

The words come from the plan (and so from the knowledge base): this module only lays them
out by day. Advice that is not tied to a session (daily sunscreen, lightening cream) is
listed once instead of on every row, and daily advice that several treatments share (each
carries its own "sunscreen every morning" step, under one code) is printed once, under Sun
protection. The PDF is tagged (PDF/UA-1: a structure tree with headings, lists and tables, the
document's language and title) so that screen readers and reflow read it as a document.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from cicatrix.engine.result import Plan, TimelineEntry
from cicatrix.exports.care import treatment_names
from cicatrix.knowledge.models import KnowledgeBase

_CALL = re.compile(r"\b(call|contact|phone)\b[^.]*\b(clinic|clinician|doctor|us)\b", re.I)


@dataclass(frozen=True)
class HandoutOptions:
    clinic_name: str = "Your clinic"
    clinic_phone: str | None = None
    clinic_address: Sequence[str] = ()  # the address's lines, from the clinic's settings
    logo: Path | bytes | None = None  # PNG/SVG/JPEG; None uses the cicatrix logo
    patient_name: str | None = None
    call_when: Sequence[str] = field(default_factory=tuple)  # the clinic's own reasons to call


def _logo_uri(logo: Path | bytes | None) -> str:
    if logo is None:
        data = (resources.files("cicatrix.exports") / "templates" / "logo.svg").read_bytes()
        kind = "image/svg+xml"
    else:
        data = logo if isinstance(logo, bytes) else Path(logo).read_bytes()
        kind = (
            "image/png"
            if data.startswith(b"\x89PNG")
            else "image/jpeg"
            if data.startswith(b"\xff\xd8")
            else "image/svg+xml"
        )
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def _fmt(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b %Y}"


def handout_context(plan: Plan, options: HandoutOptions, kb: KnowledgeBase | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain data (also handy for tests)."""
    names = treatment_names(plan)
    if kb is not None:
        names.update({t: kb.treatments[t].plain_name for t in names if t in kb.treatments})
    summaries = {r.treatment: r.rationale for r in plan.recommended}
    if kb is not None:
        summaries.update({t: kb.treatments[t].summary for t in summaries if t in kb.treatments})

    treatments: list[dict[str, Any]] = []
    for tid in dict.fromkeys(s.treatment for s in plan.course.sessions):
        dates = [_fmt(s.date) for s in plan.course.sessions if s.treatment == tid]
        treatments.append({"name": names.get(tid, tid), "summary": summaries.get(tid, ""), "sessions": dates})
    scheduled = {s.treatment for s in plan.course.sessions}
    for r in plan.recommended:
        daily = any(e.treatment == r.treatment and e.phase == "ongoing" for e in plan.timeline)
        if r.treatment not in scheduled and daily:
            treatments.append(
                {
                    "name": names.get(r.treatment, r.treatment),
                    "summary": summaries.get(r.treatment, ""),
                    "sessions": [],
                }
            )

    session_entries = [e for e in plan.timeline if e.session is not None]
    # daily advice, once per code: several treatments carry the same step (daily_spf) in own words
    daily: dict[str, TimelineEntry] = {}
    for e in plan.timeline:
        if e.session is None and e.kind in ("do", "avoid", "expect"):
            daily.setdefault(e.code or e.text, e)
    sun_daily = [e.text for key, e in daily.items() if _is_sun(key)]
    ongoing = list(dict.fromkeys(e.text for key, e in daily.items() if not _is_sun(key)))
    days: list[dict[str, Any]] = []
    covered: set[date] = set()
    for e in session_entries:
        d = e.date
        while d <= (e.until or e.date):
            covered.add(d)
            d += timedelta(days=1)
    # One row per day, with runs of identical days (days 2-7, a two-week SPF rule) merged.
    for day in sorted(covered):
        todays = [e for e in session_entries if e.applies_on(day)]
        sessions = [e for e in todays if e.kind == "session"]
        row: dict[str, Any] = {
            "session": "; ".join(f"{names.get(e.treatment or '', e.treatment)} session {e.session}" for e in sessions),
            "do": _texts(todays, ("do",)),
            "avoid": _texts(todays, ("avoid",)),
            "expect": _texts(todays, ("expect",)),
        }
        last = days[-1] if days else None
        if (
            last is not None
            and not row["session"]
            and last["last"] == day - timedelta(days=1)
            and all(last[k] == row[k] for k in ("session", "do", "avoid", "expect"))
        ):
            last["last"] = day
        else:
            days.append({**row, "first": day, "last": day})
    for row in days:
        first, last = row["first"], row["last"]
        row["label"] = _fmt(first) if first == last else f"{_fmt(first)} to {_fmt(last)}"

    sun = [*sun_daily[:1], *(e.text for e in plan.education if "sun" in e.topic)]
    if not sun:
        sun = list(dict.fromkeys(e.text for e in plan.timeline if _is_sun(e.code or "")))
    call_when = (
        list(options.call_when)
        + [e.text for e in plan.education if e.topic == "call_the_clinic"]  # warning signs after a procedure
        + list(dict.fromkeys(e.text for e in plan.timeline if _CALL.search(e.text)))
    )
    return {
        "clinic_name": options.clinic_name,
        "clinic_phone": options.clinic_phone,
        "clinic_address": ", ".join(line for line in options.clinic_address if line.strip()),
        "logo_uri": _logo_uri(options.logo),
        "patient_name": options.patient_name,
        "treatments": treatments,
        "follow_up": _fmt(plan.course.follow_up) if plan.course.follow_up else None,
        "maintenance": [
            f"{names.get(m.treatment, m.treatment)}: {m.text} Next one around {_fmt(m.date)}."
            for m in plan.course.maintenance
        ],
        "ongoing": ongoing,
        "days": days,
        "sun": sun,
        "call_when": call_when,
        "notice": plan.notice,
        "knowledge_version": plan.knowledge_version,
    }


def _is_sun(code: str) -> bool:
    return "spf" in code.lower()


def _texts(entries: list[TimelineEntry], kinds: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(e.text for e in entries if e.kind in kinds))


def render_html(plan: Plan, options: HandoutOptions | None = None, kb: KnowledgeBase | None = None) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("cicatrix.exports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    return env.get_template("handout.html.j2").render(**handout_context(plan, options or HandoutOptions(), kb))


def render_pdf(plan: Plan, options: HandoutOptions | None = None, kb: KnowledgeBase | None = None) -> bytes:
    from weasyprint import HTML

    pdf = HTML(string=render_html(plan, options, kb)).write_pdf(pdf_variant="pdf/ua-1")
    assert pdf is not None
    return bytes(pdf)
