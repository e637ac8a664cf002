"""infer.py's input and output files: words with their own answers in, the quiz out in three formats."""
import io
import json

import pandas as pd
import pytest

from seq2seq.data import DataError
from seq2seq.decoding import Distractor
from seq2seq.quiz import formatted, from_words, load_quiz, quiz_table, write_output
from tests.conftest import write_csv

RESULTS = [[Distractor("貸す", -1.25), Distractor("返す", -2.5)], [Distractor("池", -0.5)]]


def test_a_quiz_csv_gives_words_their_own_answers_and_keeps_its_columns(tmp_path):
    path = write_csv(tmp_path / "quiz.csv", ["Notes", "English", "Correct_Japanese"],
                     [("l1", "ｂｏｒｒｏｗ", "借りる | 借用する"), ("l2", "river", "")])
    quiz = load_quiz(str(path))
    assert quiz.words == ["borrow", "river"]
    assert quiz.correct == [("借りる", "借用する"), ()]
    assert list(quiz.columns.columns) == ["Notes", "English", "Correct_Japanese"]
    assert quiz.row(1) == f"{path}, row 3"


def test_a_word_list_from_a_text_file_or_standard_input(tmp_path, monkeypatch):
    path = tmp_path / "words.txt"
    path.write_text("borrow\n\nriver\n", encoding="utf-8")
    assert load_quiz(str(path)).words == ["borrow", "river"]
    monkeypatch.setattr("sys.stdin", io.StringIO("English,Correct_Japanese\nborrow,借りる\n"))
    from_stdin = load_quiz("-")  # a header naming the word column: read as CSV
    assert from_stdin.words == ["borrow"] and from_stdin.correct == [("借りる",)]
    assert from_stdin.row(0) == "standard input, row 2"


@pytest.mark.parametrize("rows, message", [
    ([("borrow", "借りる"), ("  ", "貸す")], "row 3: column 'English' is empty"),
    ([], "no rows under the header"),
])
def test_bad_quiz_rows_are_named(tmp_path, rows, message):
    path = write_csv(tmp_path / "quiz.csv", ["English", "Correct_Japanese"], rows)
    with pytest.raises(DataError, match=message):
        load_quiz(str(path))


def test_a_missing_word_column_names_the_option(tmp_path):
    path = write_csv(tmp_path / "quiz.csv", ["Word"], [("borrow",)])
    with pytest.raises(DataError, match="no column 'English' .*--src-col"):
        load_quiz(str(path))


def test_the_quiz_out_in_each_format():
    quiz = from_words(["borrow", "river"], "English")
    table = quiz_table(quiz, RESULTS, n=2)
    assert table.values.tolist() == [["borrow", "貸す", "返す", "-1.2500", "-2.5000"],
                                     ["river", "池", "", "-0.5000", ""]]
    rows = [json.loads(line) for line in formatted(quiz, RESULTS, 2, "jsonl").splitlines()]
    assert rows[0] == {"English": "borrow", "distractors": ["貸す", "返す"], "scores": [-1.25, -2.5]}
    assert formatted(quiz, RESULTS, 2, "text") == "borrow: 貸す, 返す\nriver: 池\n"
    read_back = pd.read_csv(io.StringIO(formatted(quiz, RESULTS, 2, "csv")), keep_default_na=False, dtype=str)
    assert read_back.equals(table)


def test_output_is_written_whole_or_not_at_all(tmp_path):
    out = tmp_path / "quiz-out.csv"
    write_output(out, "English\nborrow\n")
    assert (out.read_text(encoding="utf-8") == "English\nborrow\n"
            and not (tmp_path / "quiz-out.csv.tmp").exists())
    with pytest.raises(DataError, match="there is no folder .*; make it first, or choose another --output"):
        write_output(tmp_path / "no" / "such" / "dir.csv", "x")
