"""How a typed history or medication word is matched to a vocabulary code.

Clinicians type the same thing many ways: "Cold sores", "cold-sore", "HSV-1", "Ciclosporin",
"cyclosporine", "Prograf 1 mg". One pure function, `normal_form`, decides when two spellings
are the same word, so the loader (synonyms must not collide), the engine (`parse_case`) and
every adapter that records a patient agree on it. Which words mean which code is data
(`data/vocabulary.yaml`), never code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from cicatrix.knowledge.models import Term

_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script; spaces, hyphens, underscores separate


def normal_form(term: str) -> str:
    """Case, accents and separators folded: 'Ciclosporin-A ' and 'ciclosporin a' both give 'ciclosporin_a'."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", term) if not unicodedata.combining(c))
    return "_".join(_WORD.findall(bare.casefold()))


# what may follow a medicine's name in a dose: amounts, units and how often ("1mg twice daily")
_DOSE_WORDS = frozenset(
    [
        "mg",
        "g",
        "mcg",
        "ug",
        "microgram",
        "micrograms",
        "ml",
        "iu",
        "units",
        "unit",
        "tablet",
        "tablets",
        "tab",
        "tabs",
        "capsule",
        "capsules",
        "once",
        "twice",
        "three",
        "times",
        "daily",
        "weekly",
        "monthly",
        "a",
        "day",
        "week",
        "od",
        "bd",
        "bid",
        "tds",
        "tid",
        "qds",
        "qid",
        "prn",
        "nightly",
        "morning",
        "evening",
        "at",
        "night",
        "every",
        "other",
    ]
)
_AMOUNT = re.compile(r"\d+(?:\.\d+)?(?:mg|g|mcg|ug|ml|iu)?")


def without_dose(normal: str) -> str | None:
    """The words before a trailing dose ('aspirin_75_mg' -> 'aspirin'), else None.

    A dose is an amount (a number, with its unit or not) and then only units and frequencies:
    'prograf_1mg_twice_daily' -> 'prograf', 'aspirin_75' -> 'aspirin'. A leading number is no
    dose ('5_fu'). None when there is nothing to drop or nothing would be left. Medicines only
    (`engine.terms.lookup`): a history term has no dose, so 'HSV-2' is never read as 'HSV'.
    """
    words = normal.split("_")
    for i, w in enumerate(words):
        if _AMOUNT.fullmatch(w):
            tail = words[i + 1 :]
            if i and all(t in _DOSE_WORDS or _AMOUNT.fullmatch(t) for t in tail):
                return "_".join(words[:i])
            return None
    return None


def term_table(vocabulary: Mapping[str, Term]) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Normal form -> code for every code and synonym, and the clashes found.

    A clash is (word, first code, second code): one word that would mean two codes. Normal
    forms are unique across both kinds, so a word never means a history code in one field and
    a medicine in the other.
    """
    table: dict[str, str] = {}
    clashes: list[tuple[str, str, str]] = []
    for code, term in vocabulary.items():
        for word in dict.fromkeys((code, *term.synonyms)):
            key = normal_form(word)
            if not key:
                clashes.append((word, code, code))
                continue
            first = table.setdefault(key, code)
            if first != code:
                clashes.append((word, first, code))
    return table, clashes
