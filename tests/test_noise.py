"""Noise augmentation: targets swapped for related words at the asked rate, never for a correct answer."""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from seq2seq.data import DataError, load_pairs
from seq2seq.errors import UserError
from seq2seq.noise import add_noise, load_related, main

ROOT = Path(__file__).resolve().parents[1]

PAIRS_CSV = "English,Japanese,Correct_Japanese\nborrow,借りる,借りる|借用する\nlend,貸す,\nbridge,橋,\n"
# 借用する is correct for borrow (named in Correct_Japanese) and 貸す is borrow's near miss.
RELATED_CSV = "word,related\n借りる,貸す\n借りる,借用する\n借りる,借りる\n貸す,借りる\n貸す,返す\n橋,箸\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "pairs.csv").write_text(PAIRS_CSV, encoding="utf-8")
    (tmp_path / "related.csv").write_text(RELATED_CSV, encoding="utf-8")
    return tmp_path


def test_load_related_groups_and_drops_self(files):
    assert load_related(files / "related.csv") == {"借りる": ["借用する", "貸す"], "貸す": ["借りる", "返す"], "橋": ["箸"]}


def test_with_p_one_every_target_is_replaced_but_never_by_a_correct_answer(files):
    pairs = load_pairs(files / "pairs.csv")
    noisy = add_noise(pairs, load_related(files / "related.csv"), p=1.0, k=20, seed=3)
    assert len(noisy) == 3 * 20
    targets = noisy.groupby("English")["Japanese"].agg(set).to_dict()
    assert targets == {"borrow": {"貸す"}, "lend": {"借りる", "返す"}, "bridge": {"箸"}}  # 借用する is correct
    assert set(noisy.loc[noisy["English"] == "borrow", "Correct_Japanese"]) == {"借りる|借用する"}


def test_the_rejection_index_excludes_more_and_an_empty_choice_keeps_the_target(files):
    pairs = load_pairs(files / "pairs.csv")
    related = load_related(files / "related.csv")
    rejection = {"lend": frozenset({"返す"})}  # pretend JMdict also glosses 返す with 'lend'
    noisy = add_noise(pairs, related, p=1.0, k=10, seed=3, rejection=rejection)
    assert set(noisy.loc[noisy["English"] == "lend", "Japanese"]) == {"借りる"}
    rejection = {"lend": frozenset({"返す", "借りる"})}
    noisy = add_noise(pairs, related, p=1.0, k=10, seed=3, rejection=rejection)
    assert set(noisy.loc[noisy["English"] == "lend", "Japanese"]) == {"貸す"}  # nothing left: target stays


def test_replacement_rate_follows_p_and_the_seed_repeats(files):
    pairs = load_pairs(files / "pairs.csv")
    related = load_related(files / "related.csv")
    noisy = add_noise(pairs, related, p=0.3, k=1000, seed=7)
    replaced = (noisy["Japanese"] != pairs["target"].repeat(1000).to_numpy()).mean()
    assert 0.26 < replaced < 0.34
    assert noisy.equals(add_noise(pairs, related, p=0.3, k=1000, seed=7))
    assert (add_noise(pairs, related, p=0.0, k=5, seed=7)["Japanese"]
            == pairs["target"].repeat(5).to_numpy()).all()


@pytest.mark.parametrize(("p", "k", "message"), [(1.5, 1, r"--p 1\.5"), (0.5, 0, "--k 0")])
def test_bad_options_are_named(files, p, k, message):
    with pytest.raises(UserError, match=message):
        add_noise(load_pairs(files / "pairs.csv"), {}, p=p, k=k, seed=1)


def test_related_table_errors_name_file_and_row(tmp_path):
    (tmp_path / "r.csv").write_text("word,other\n借りる,貸す\n", encoding="utf-8")
    with pytest.raises(DataError, match="r.csv: no column 'related'"):
        load_related(tmp_path / "r.csv")
    (tmp_path / "r.csv").write_text("word,related\n借りる,貸す\n橋,\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"r.csv, row 3: empty cell in column 'related'"):
        load_related(tmp_path / "r.csv")


def test_command_writes_a_csv_train_py_reads(files, capsys):
    main(["--input", str(files / "pairs.csv"), "--related", str(files / "related.csv"),
          "--output", str(files / "noisy.csv"), "--p", "1", "--k", "2", "--seed", "1"])
    assert "6 rows, 6 with a replaced target" in capsys.readouterr().out
    written = pd.read_csv(files / "noisy.csv", keep_default_na=False)
    assert list(written.columns) == ["English", "Japanese", "Correct_Japanese"]
    reread = load_pairs(files / "noisy.csv")
    assert not any(target in correct for target, correct in zip(reread["target"], reread["correct"]))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--p", "2"], "error: --p 2.0: a probability must lie in [0, 1]"),
        (["--input", "missing.csv"], "error: --input missing.csv: file not found"),
    ],
)
def test_command_bad_input_is_one_line_and_nonzero(files, options, message):
    defaults = {"--input": "pairs.csv", "--related": "related.csv", "--output": "out.csv"}
    defaults.update(dict(zip(options[::2], options[1::2])))
    result = subprocess.run(
        [sys.executable, "-m", "seq2seq.noise", *(part for pair in defaults.items() for part in pair)],
        capture_output=True, text=True, cwd=files, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == message
