"""The patient's own pages: Today, the whole calendar, the plan in plain words, and education.

Every page reads only the logged-in patient's record through the service layer, which
confines a patient to their own data; there is no patient id in these URLs to tamper with.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from cicatrix.engine.result import Plan as EnginePlan
from cicatrix.service import assessments, checkins, plans
from cicatrix.service.errors import NotFound
from cicatrix.service.schemas import PlanOut
from cicatrix.web import views
from cicatrix.web.core import Page, WebRoute, roles

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PATIENT = roles("patient")
DAYS_AHEAD = 4  # today and the next three days
ANSWERS_SHOWN = 10  # the patient's latest check-in answers on Today


def _my_id(page: Page) -> int:
    pid = page.actor.patient_id
    if pid is None:
        raise NotFound("patient_id", "this account is not linked to a patient record")
    return pid


def _my_plan(page: Page) -> PlanOut | None:
    try:
        return page.step(plans.current, _my_id(page))
    except NotFound:
        return None


def _render(page: Page, template: str, title: str, **context: Any) -> Response:
    kb = page.ctx.kb
    return page.render(
        template,
        title=title,
        plain_name=views.plain_namer(kb),
        summary=views.summarizer(kb),
        **context,
    )


@router.get("/me", response_class=HTMLResponse)
def today_page(page: Page = Depends(PATIENT)) -> Response:
    answers = checkins.for_patient(page.ctx, _my_id(page))[:ANSWERS_SHOWN]
    try:
        t = page.step(plans.today, _my_id(page), days=DAYS_AHEAD)
    except NotFound:
        return _render(page, "patient/today.html", "Today", plan=None, days=[], next_session=None, answers=answers)
    # Today shows everything in force; the next days show only what starts or happens then,
    # so a long-running instruction is not repeated on every day.
    # The same step from several treatments (four sunscreen lines) is shown once.
    days = [{"date": t.days[0].date, "entries": views.group_repeated(t.days[0].entries)}] if t.days else []
    for d in t.days[1:]:
        iso = d.date.isoformat()
        days.append({"date": d.date, "entries": views.group_repeated(e for e in d.entries if e["date"] == iso)})
    return _render(
        page, "patient/today.html", "Today", plan=t.plan_id, days=days, next_session=t.next_session, answers=answers
    )


@router.get("/me/timeline", response_class=HTMLResponse)
def timeline_page(page: Page = Depends(PATIENT)) -> Response:
    plan = _my_plan(page)
    timeline = plan.plan.get("timeline", []) if plan else []
    return _render(page, "patient/timeline.html", "My calendar", plan=plan, timeline=timeline)


@router.get("/me/plan", response_class=HTMLResponse)
def plan_page(page: Page = Depends(PATIENT)) -> Response:
    plan = _my_plan(page)
    if plan is None:
        return _render(page, "patient/plan.html", "My plan", plan=None)
    course = plan.plan.get("course", {})
    return _render(
        page,
        "patient/plan.html",
        "My plan",
        plan=plan,
        scheduled=views.scheduled_options(plan.plan),
        sessions=views.live_sessions(plan.sessions),
        follow_up=course.get("follow_up"),
        maintenance=course.get("maintenance", []),
        notice=plan.plan.get("notice", ""),
    )


@router.get("/me/learn", response_class=HTMLResponse)
def learn_page(page: Page = Depends(PATIENT)) -> Response:
    kb = page.ctx.kb
    pid = _my_id(page)
    plan = _my_plan(page)
    topics: list[dict[str, str]] = []
    seen: set[str] = set()
    if plan is not None:
        for e in msgspec.convert(plan.plan, EnginePlan).education:
            if e.topic in kb.education and e.topic not in seen:
                seen.add(e.topic)
                # the topic's own text: the plan's copy starts with the title, which is the heading here
                topics.append({"id": e.topic, "title": kb.education[e.topic].title, "text": kb.education[e.topic].text})
    for tid, t in kb.education.items():  # the always-on topics, such as sun protection
        if t.when == "always" and tid not in seen:
            seen.add(tid)
            topics.append({"id": tid, "title": t.title, "text": t.text})
    latest = assessments.history(page.ctx, pid, limit=1).items
    lesion_ids: list[str] = []
    mark_ids: list[str] = []
    if latest:
        a = latest[0].input.get("assessment", {})
        lesion_ids = [e["type"] for e in a.get("active_lesions", []) if e.get("count")]
        mark_ids = [e["type"] for e in a.get("marks", []) if e.get("count")]
    lesions = [
        {"id": i, "name": kb.lesions[i].name, "advice": kb.lesions[i].advice} for i in lesion_ids if i in kb.lesions
    ]
    marks = [{"id": i, "name": kb.marks[i].name, "advice": kb.marks[i].advice} for i in mark_ids if i in kb.marks]
    return _render(page, "patient/learn.html", "Learn", topics=topics, lesions=lesions, marks=marks)
