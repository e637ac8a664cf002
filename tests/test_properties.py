"""Property tests: whatever a user's CSV cells or decoding options hold, the program either accepts them or
stops with one line that says why, never a traceback.

Hypothesis (the `hypothesis` package) makes up the inputs, a hundred a test, odd ones a person would not
think of (control characters, lone combining marks, right-to-left text, huge and negative numbers, NaN);
when one fails, it shrinks it to the smallest input that still fails, and prints that.
"""
import csv
import math
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq.config import DecodeConfig
from seq2seq.data import load_pairs, normalize_text
from seq2seq.decoding import check_decode_settings
from seq2seq.errors import UserError

FEW = settings(max_examples=100, deadline=None)  # a few seconds in all, on 2 cores
HEADER = ["English", "Japanese", "Correct_Japanese"]


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    """One file, rewritten for every example. Module-scoped: Hypothesis runs a test's body many times with
    the same fixtures, so it refuses a per-test tmp_path, which would look fresh but not be."""
    return tmp_path_factory.mktemp("properties") / "cells.csv"


def write_rows(path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def loads_or_says_why_in_one_line(path):
    """load_pairs' pairs, or None when it refused the file with a one-line message (anything else fails)."""
    try:
        return load_pairs(path)
    except UserError as err:
        message = str(err)
        assert message and len(message.splitlines()) == 1, repr(message)
        return None


def assert_clean(pairs) -> None:
    """What load_pairs promises of what it returns: every word present, normalised, nothing invisible left."""
    for text in [*pairs["source"], *pairs["target"]]:
        assert text and text == normalize_text(text), repr(text)
        assert not any(unicodedata.category(char) in ("Cc", "Cf") for char in text), repr(text)


@FEW
@given(rows=st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12), st.text(max_size=12)), max_size=6))
def test_any_text_in_the_three_columns_loads_or_is_refused_in_one_line(csv_path, rows):
    write_rows(csv_path, [HEADER, *rows])
    pairs = loads_or_says_why_in_one_line(csv_path)
    if pairs is not None:
        assert_clean(pairs)
        assert len(pairs) <= len(rows)


@FEW
@given(rows=st.lists(st.lists(st.text(max_size=8), max_size=4), max_size=5))
def test_any_table_header_included_loads_or_is_refused_in_one_line(csv_path, rows):
    """Ragged rows, repeated or empty column names, a header without the columns: none may crash."""
    write_rows(csv_path, rows)
    loads_or_says_why_in_one_line(csv_path)


@FEW
@given(data=st.binary(max_size=200))
def test_any_bytes_load_or_are_refused_in_one_line(csv_path, data):
    """Not even text: bytes in another encoding, or a binary file passed by mistake."""
    csv_path.write_bytes(data)
    loads_or_says_why_in_one_line(csv_path)


@FEW
@given(text=st.text())
def test_normalising_twice_changes_nothing(text):
    """Training stores normalised words and inference normalises what it is given: that must meet."""
    once = normalize_text(text)
    assert normalize_text(once) == once


counts = st.integers(min_value=-10**12, max_value=10**12)  # what argparse's type=int lets through
reals = st.floats(allow_nan=True, allow_infinity=True)  # and type=float: 'nan' and 'inf' too


@FEW
@given(n=counts, top_k=counts, beam_size=counts, max_attempts=counts, top_p=reals, temperature=reals,
       length_penalty=reals)
def test_any_decoding_options_pass_or_are_refused_in_one_line(n, top_k, beam_size, max_attempts, top_p,
                                                              temperature, length_penalty):
    config = DecodeConfig(n=n, top_k=top_k, beam_size=beam_size, max_attempts=max_attempts, top_p=top_p,
                          temperature=temperature, length_penalty=length_penalty)
    try:
        check_decode_settings(config)
    except UserError as err:
        assert len(str(err).splitlines()) == 1, repr(str(err))
        return
    assert n >= 1 and beam_size >= 1 and max_attempts >= 1 and top_k >= 0  # what it let through is usable
    assert 0 < top_p <= 1 and temperature > 0 and math.isfinite(length_penalty)
