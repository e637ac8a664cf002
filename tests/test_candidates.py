"""seq2seq/candidates.py on a hand-made lexicon: which words are proposed to the ranker, in which order."""
from seq2seq.baselines import gloss_baseline
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


def test_headwords_are_glossed_by_the_glossary_when_given_else_by_their_keys(tmp_path):
    path = write_csv(tmp_path / "lexicon.csv", ["English", "Japanese", "pos"], ROWS)
    glossary = {"lend": frozenset({"貸す", "貸し出す"}), "loan": frozenset({"貸す", "借用"}),
                "rent out": frozenset({"貸す"})}
    glossed = CandidateLexicon.load(path, glossary)
    assert glossed.glosses["貸す"] == ["lend", "loan", "rent out"]  # one-word glosses first
    assert "貸し出す" not in glossed.glosses  # not a headword of the lexicon
    assert "借りる" not in glossed.glosses  # no gloss of it in the glossary
    assert CandidateLexicon.load(path).glosses["借りる"] == ["borrow", "hire", "rent"]  # its keys
    space = glossed.gloss_space
    assert space is glossed.gloss_space  # built once, when first asked
    assert space.closeness("loan", ["貸す"]) == [1.0]


def test_words_near_in_meaning_are_of_the_words_part_of_speech_and_never_its_answers(tmp_path):
    path = write_csv(tmp_path / "lexicon.csv", ["English", "Japanese", "pos"], ROWS)
    words = CandidateLexicon.load(path)  # glossed by their keys: 借りる borrow, hire, rent; 家賃 rent; …
    near = words.near_in_meaning("borrow", ["借りる"], limit=20)
    assert "借りる" not in near and "家賃" not in near  # the answer; a noun, where borrow is a verb
    assert near and all(words.pos_by_form[form] == {"verb"} for form in near)
    assert near[0] == "取り入れる"  # glossed "borrow" too (and adopt, harvest): the nearest
    assert words.near_in_meaning("borrow", ["借りる"], limit=0) == []


def test_the_gloss_baseline_is_the_nearest_in_meaning_less_every_rejected_form(tmp_path):
    words = CandidateLexicon.load(write_csv(tmp_path / "lexicon.csv", ["English", "Japanese", "pos"], ROWS))
    nearest = words.near_in_meaning("borrow", ["借りる"], limit=3)
    found = gloss_baseline(["borrow"], [frozenset({"借りる"})], [frozenset({nearest[0]})], words, n=2)
    assert found == [nearest[1:3]]  # the nearest was rejected: the next two
