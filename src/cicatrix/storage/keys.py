"""The folded search key kept beside a patient's name (`patient.name_key`).

Why a stored key and not `unaccent` on PostgreSQL: one folding for both back ends, so "zoe"
finds the same patients on SQLite and PostgreSQL; it needs no extension (managed PostgreSQL
does not always allow `CREATE EXTENSION`); and `unaccent(lower(name))` cannot use an index
without an immutable wrapper function. The service writes the key on every create, update and
import; migration 0009 backfilled the rows written before it folded accents.

It lives in storage because the migration computes it too; the service imports it from here.
"""

from __future__ import annotations

import unicodedata

# Letters that Unicode does not decompose into a base letter and a mark, folded as a reader
# of the name would type them without the accent key (unaccent's rules for these letters).
_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"})


def fold(text: str) -> str:
    """`text` as search compares it: case folded, accents removed, spaces collapsed.

    NFKD splits "ë" into "e" and a combining mark, which is dropped; casefold also maps "ß" to
    "ss". "Zoë", "ZOE" and "zoe" all fold to "zoe".
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.translate(_LETTERS).split())


NAME_KEY_LENGTH = 200  # patient.name_key's column; folding can lengthen a name ("ß" → "ss")


def name_key(name: str) -> str:
    """The stored key of a patient's name (`patient.name_key`)."""
    return fold(name)[:NAME_KEY_LENGTH]
