"""Every code people may see has a label in the knowledge data (issue 14 §6); the loader
refuses a label that is missing or still reads like a code."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from cicatrix.knowledge.loader import REQUIRED_LABELS, KnowledgeError, load_knowledge
from cicatrix.knowledge.models import KnowledgeBase, Severity
from cicatrix.service.policy import PLAN_STATUSES, ROLES
from cicatrix.service.schemas import Sex
from cicatrix.web.render import ROLE_LABELS


def test_the_service_and_engine_codes_all_have_labels(kb: KnowledgeBase) -> None:
    assert set(PLAN_STATUSES) <= set(kb.labels["plan_status"])
    assert set(typing.get_args(Severity)) <= set(kb.labels["severity"])
    assert set(typing.get_args(Sex)) <= set(kb.labels["sex"])
    assert kb.scales.severity_fallback.basis in kb.labels["severity_basis"]
    assert set(ROLES) == set(ROLE_LABELS)
    for group, codes in REQUIRED_LABELS.items():
        assert set(codes) <= set(kb.labels[group]), group


@pytest.mark.parametrize(
    ("file", "body", "says"),
    [
        ("knowledge.yaml", "labels:\n  session_status:\n    done: session_done\n", "looks like a code"),
        ("knowledge.yaml", "labels:\n  session_status:\n    done: ' '\n", "needs a label"),
        ("lesions.yaml", "- id: papule\n  name: inflamed_papule\n", "looks like a code"),
    ],
)
def test_a_label_that_reads_like_a_code_is_refused(tmp_path: Path, file: str, body: str, says: str) -> None:
    (tmp_path / file).write_text(body)
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(tmp_path)
    assert says in str(err.value)


def test_a_missing_required_label_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REQUIRED_LABELS, "session_status", (*REQUIRED_LABELS["session_status"], "no_show"))
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(tmp_path)
    assert "no label for 'no_show'" in str(err.value)
