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
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id) == (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
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
