import subprocess
import sys
from pathlib import Path

import pytest

from tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, TokenizerError, train_tokenizer
from tests.conftest import PAIRS

TEXTS = [text for english, wrong, correct in PAIRS for text in (english, wrong, correct)]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(TEXTS, vocab_size=400)


def test_round_trip_english_and_japanese(tokenizer):
    for text in ["borrow", "mountain river", "借りる", "嬉しい", "お湯"]:
        assert tokenizer.decode(tokenizer.encode(text)) == text


def test_unseen_kanji_falls_back_to_bytes_not_unk(tokenizer):
    ids = tokenizer.encode("鬱蒼")  # neither kanji is in the training texts
    assert UNK_ID not in ids
    assert tokenizer.decode(ids) == "鬱蒼"


def test_special_ids_are_fixed_and_dropped_when_decoding(tokenizer):
    assert ((tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id)
            == (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3))
    ids = tokenizer.encode("犬")
    assert tokenizer.decode([BOS_ID] + ids + [EOS_ID, PAD_ID, PAD_ID]) == "犬"


def test_training_is_deterministic():
    first, second = train_tokenizer(TEXTS, 400), train_tokenizer(TEXTS, 400)
    assert first.model_proto == second.model_proto


def test_save_and_load(tokenizer, tmp_path):
    tokenizer.save(tmp_path / "spm.model")
    loaded = Tokenizer.load(tmp_path / "spm.model")
    assert loaded.vocab_size == tokenizer.vocab_size
    assert loaded.encode("借りる borrow") == tokenizer.encode("借りる borrow")


def test_vocabulary_too_small_for_the_corpus_is_a_clear_error():
    with pytest.raises(TokenizerError, match="use at least"):
        train_tokenizer(TEXTS, vocab_size=300)
    with pytest.raises(TokenizerError, match="too small"):
        train_tokenizer(TEXTS, vocab_size=100)


def test_the_separator_with_its_spaces_is_one_piece(tokenizer):
    assert tokenizer.pieces("borrow ⟨sep⟩ 借りる").count("▁⟨sep⟩▁") == 1
    assert "⟨sep⟩" in tokenizer.pieces("borrow⟨sep⟩借りる")  # without spaces, still one piece
    assert tokenizer.decode(tokenizer.encode("borrow ⟨sep⟩ 借りる")) == "borrow ⟨sep⟩ 借りる"


def test_a_word_does_not_start_with_a_lone_space_piece(tokenizer):
    """No dummy prefix: a target is its pieces alone, one decoder step shorter than [▁, 借, …]."""
    for text in ["借りる", "borrow"]:
        assert tokenizer.pieces(text)[0] != "▁"
    assert "▁" in tokenizer.pieces("mountain river")  # a space inside a text is still a piece, not bytes


# --- the inspector: python -m tokenizer ------------------------------------------------------------------

from tokenizer.__main__ import main as inspect_main, script_of  # noqa: E402


def test_the_inspector_runs_as_a_module(tokenizer, tmp_path):
    """As the README runs it: a fresh interpreter importing the tokenizer package first (an import cycle
    through seq2seq once broke exactly this, while in-process tests passed)."""
    tokenizer.save(tmp_path / "spm.model")
    done = subprocess.run([sys.executable, "-m", "tokenizer", "--model", str(tmp_path / "spm.model"), "借りる"],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert "pieces:" in done.stdout


def test_pieces_are_classed_by_script():
    assert [script_of(p) for p in ["▁borrow", "る", "ーカー", "借", "借り", "▁", "|", "ab1"]] == [
        "latin", "hiragana", "katakana", "kanji", "mixed Japanese", "word start", "other", "other"]


def test_inspector_prints_pieces_ids_bytes_and_the_vocabulary(tokenizer, tmp_path, capsys):
    tokenizer.save(tmp_path / "spm.model")
    inspect_main(["--model", str(tmp_path / "spm.model"), "借りる", "鬱"])
    out = capsys.readouterr().out
    ids = tokenizer.encode("借りる")
    assert f"  ids:    {' '.join(map(str, ids))}" in out
    assert f"  pieces: {' '.join(tokenizer.pieces('借りる'))}" in out
    assert "鬱 = <0xE9> <0xAC> <0xB1>" in out  # not in the tiny vocabulary: spelled as its UTF-8 bytes
    assert f"vocabulary: {tokenizer.vocab_size} pieces" in out
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
              if line.startswith("  ") and line.split()[0] in ("special", "byte")}
    assert counts == {"special": 4, "byte": 256}


def test_inspector_trains_each_size_on_a_csv_and_counts_whole_words(pairs_csv, capsys):
    inspect_main(["--data", str(pairs_csv), "--vocab-size", "400", "--vocab-size", "450", "borrow"])
    out = capsys.readouterr().out
    assert "vocab_size 400" in out and "vocab_size 450" in out
    assert out.count("English words kept whole (one piece):") == 2


def test_inspector_refuses_a_size_for_a_trained_model(tokenizer, tmp_path):
    tokenizer.save(tmp_path / "spm.model")
    with pytest.raises(TokenizerError, match="--vocab-size is for --data"):
        inspect_main(["--model", str(tmp_path / "spm.model"), "--vocab-size", "400"])
