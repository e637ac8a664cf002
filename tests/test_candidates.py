"""seq2seq/candidates.py on a hand-made lexicon: which words are proposed to the ranker, in which order."""
from seq2seq.candidates import CandidateLexicon, kanji_in
from tests.conftest import write_csv

ROWS = [  # English, Japanese, pos
    ("borrow", "借りる", "verb"), ("rent", "借りる", "verb"), ("rent", "家賃", "noun"), ("hire", "借りる", "verb"),
    ("hire", "雇う", "verb"), ("lend", "貸す", "verb"), ("debt", "借金", "noun"), ("loan", "借用", "noun"),
    ("tenant", "借家人", "noun"), ("adopt", "取り入れる", "verb"), ("borrow", "取り入れる", "verb"),
    ("harvest", "取り入れる", "verb"), ("take out", "借り出す", "verb"),
]


def lexicon(tmp_path) -> CandidateLexicon:
    return CandidateLexicon.load(write_csv(tmp_path / "lexicon.csv", ["English", "Japanese", "pos"], ROWS))


def test_kanji_in_takes_ideographs_only():
    assert kanji_in("借り入れる") == {"借", "入"}
    assert kanji_in("時々") == {"時"}  # 々 repeats a kanji, it is none of its own
    assert kanji_in("ペット") == set()


def test_kanji_neighbours_share_a_kanji_and_the_words_part_of_speech(tmp_path):
    words = lexicon(tmp_path)
    assert words.sharing_kanji("borrow", ["借りる"], limit=10) == ["借り出す"]  # the only other verb with 借
    assert words.kanji_neighbours(["借りる"], frozenset({"noun"})) == {"借金", "借用", "借家人"}
    assert words.kanji_neighbours(["借りる"], frozenset()) == {"借金", "借用", "借家人", "借り出す"}  # any POS


def test_most_shared_kanji_then_nearest_length_first_and_the_limit_cuts(tmp_path):
    words = lexicon(tmp_path)
    # 借家人 shares 借 and 家 with 家賃|借金; then 2-character words before the 3-character 借家人 would be
    assert words.sharing_kanji("debts", ["借金", "家賃"], limit=10)[0] == "借家人"
    assert words.sharing_kanji("debts", ["借金", "家賃"], limit=2) == ["借家人", "借用"]


def test_neighbour_words_share_an_answer_most_shared_first(tmp_path):
    words = lexicon(tmp_path)
    assert words.neighbour_words("borrow", ["借りる", "取り入れる"], limit=10) == ["adopt", "harvest", "hire", "rent"]
    # never the word itself
    assert words.neighbour_words("rent", ["借りる", "家賃"], limit=10) == ["borrow", "hire"]
    assert words.neighbour_words("Borrow", ["借りる"], limit=1) == ["hire"]
