"""A patient's history and medication terms, read through the knowledge base's vocabulary.

`parse_case` uses `read_term` to turn every typed term into its code (or to refuse it);
screening uses `codes` so that a case built in code, not parsed, is read the same way; the
plan uses `unrecognised` so that a term no rule could see is never silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from cicatrix.engine.index import index_for
from cicatrix.knowledge.models import KnowledgeBase, Term, TermKind
from cicatrix.knowledge.vocabulary import normal_form, without_dose

# the Patient field that holds each kind of term
FIELDS: dict[TermKind, Literal["history", "medications"]] = {"history": "history", "medication": "medications"}


def lookup(term: str, kb: KnowledgeBase, kind: TermKind | None = "medication") -> Term | None:
    """The vocabulary entry a typed term means, of either kind; None when no entry does.

    In a medication field a trailing dose is ignored ("aspirin 75 mg"); in the history field it
    is not (`kind="history"`): "HSV-2" is not "HSV"."""
    table = index_for(kb).terms
    key = normal_form(term)
    code = table.get(key)
    if code is None and kind != "history" and (bare := without_dose(key)) is not None:
        code = table.get(bare)
    return kb.vocabulary[code] if code is not None else None


def read_term(kind: TermKind, term: str, kb: KnowledgeBase) -> tuple[str | None, str | None]:
    """(code, None) for a term of this kind, else (None, why it cannot be used here)."""
    entry = lookup(term, kb, kind)
    if entry is None:
        return None, None
    if entry.recorded_as is not None:
        return None, f"{term!r} is not a {kind} term: record it in patient.{entry.recorded_as}"
    if entry.kind != kind:
        other = FIELDS[entry.kind]
        return None, f"{term!r} is a {entry.kind} code ({entry.id}); record it in patient.{other}"
    return entry.id, None


def _usable(kind: TermKind, term: str, kb: KnowledgeBase) -> str | None:
    entry = kb.vocabulary.get(term)
    if entry is not None and entry.kind == kind and entry.recorded_as is None:
        return term  # already a code: the common case after parse_case
    return read_term(kind, term, kb)[0]


def codes(kind: TermKind, terms: Iterable[str], kb: KnowledgeBase) -> frozenset[str]:
    """The codes these terms mean; a term that means none is left out (see `unrecognised`)."""
    return frozenset(c for t in terms if (c := _usable(kind, t, kb)) is not None)


def unrecognised(kind: TermKind, terms: Iterable[str], kb: KnowledgeBase) -> tuple[str, ...]:
    """Every term no code of this kind stands for: free text, which no rule can read."""
    return tuple(t for t in terms if _usable(kind, t, kb) is None)
