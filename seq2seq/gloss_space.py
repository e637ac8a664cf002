"""English words as vectors, learnt from the dictionary itself: words that gloss the same Japanese
headwords mean alike.

    common headwords ─► their English glosses      貸す: lend, loan, rent out   借りる: borrow, rent, hire
    glosses ─► content words ─► a words × headwords table, weighted by positive PMI
    truncated SVD of the table ─► one unit vector per English word (latent semantic analysis)
    closeness(borrow, 貸す) = the best cosine between borrow and one of 貸す's glosses

Why: the model reads a word it never trained on as SentencePiece pieces, and nothing in "borrow" spelled
out says that it means nearly what "lend" means. The dictionary says so: 借りる is glossed "borrow" and
"rent", 貸す "lend" and "rent out". Words that share headwords share vector directions, and so do words
that share only the company they keep (borrow and lend both sit beside "rent" and "loan"). Ranking then
prefers candidates whose own glosses point where the word points: near in meaning, as a near miss must be.

The vectors are made from the bundled JMdict lists when ranking first needs them: no pretrained network,
about a second of work, the same vectors every run (a seeded randomised SVD over the headwords in
spelling order). They are one good space among many: the singular values fall slowly (the 100th is
within 3% of the 95th), so which 100 directions are kept depends on the random start, and another seed
moves cosines by about 0.05. Ranking gained about as much with each start it was measured with (on the
test words 0.393 and 0.397 near miss: docs/RESULTS.md, tenth session).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

import torch
from torch.nn.functional import normalize

from seq2seq.errors import UserError
from seq2seq.lexicon import normalize_gloss

DIMENSIONS = 100  # on 300 validation words 200 was no better (docs/RESULTS.md, tenth session)
SVD_ITERATIONS = 4  # power iterations of torch.svd_lowrank; more cost time and still leave the last of the
# slowly falling directions to the random start
# Words that carry grammar, not meaning: "to lend (money) to someone" is about lend and money.
STOP_WORDS = frozenset("a an the to of be is it in on at by for from with as or and that this one one's "
                       "someone something oneself up out into".split())
_WORD = re.compile(r"[a-z]+")


def unit_parts(vectors: torch.Tensor, members: int) -> torch.Tensor:
    """(..., members·dims): each member's slice of the last dimension scaled to length 1/√members. The dot
    product of two such vectors is then the mean of the members' cosines: an ensemble of spaces (tuned
    in different ways and from different seeds, `seq2seq.gloss_tuning`) answers in one product, as one
    space does (members 1: the plain unit vector)."""
    parts = vectors.unflatten(-1, (members, -1))  # (..., members, dims)
    return (normalize(parts, dim=-1) / members ** 0.5).flatten(-2)


def gloss_words(gloss: str) -> list[str]:
    """The words of a gloss that carry its meaning: 'to lend (money) to someone' → ['lend']."""
    return [word for word in _WORD.findall(normalize_gloss(gloss)) if word not in STOP_WORDS]


@dataclass
class GlossSpace:
    """A vector for each English word of the headwords' glosses, and a unit vector for each gloss."""

    row_of: dict[str, int]  # English word → its row in `vectors`
    vectors: torch.Tensor  # (words, members·dims): untuned, one member and each row of length 1
    idf: torch.Tensor  # (words,): log(1 + headwords / those the word glosses); rare words weigh more
    # the headwords with at least one gloss the space can read, by spelling, and each one's place in it
    forms: list[str] = field(default_factory=list)
    form_row: dict[str, int] = field(default_factory=dict)
    # (glosses, dims): each gloss as `text_vector` places it, a headword's glosses one after another
    gloss_vectors: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0))
    # (forms + 1,): the glosses of forms[i] are rows first_gloss[i] to first_gloss[i + 1] - 1
    first_gloss: torch.Tensor = field(default_factory=lambda: torch.zeros(1, dtype=torch.long))
    # (glosses, words), sparse: each gloss's words with their IDF, so gloss_vectors = this @ vectors
    gloss_words: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0).to_sparse())
    members: int = 1  # spaces side by side in `vectors` (seq2seq.gloss_tuning): cosines are their mean
    # (words, headwords), sparse: the positive PMI table the untuned vectors were factored from, and
    # (headwords, dims) its right singular vectors over √S: table @ headword_vectors ≈ U·√S, the word vectors
    # before their rows are scaled to length 1 (tuning can move words through their headwords: gloss_tuning)
    table: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0).to_sparse())
    headword_vectors: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0))

    @classmethod
    def build(cls, glosses: dict[str, list[str]], dims: int = DIMENSIONS, seed: int = 0) -> "GlossSpace":
        """Factor the words × headwords table of positive PMI (`ppmi_table`), keep the word side, and place
        every gloss by its words."""
        words = sorted({word for form_glosses in glosses.values() for gloss in form_glosses
                        for word in gloss_words(gloss)})
        row_of = {word: row for row, word in enumerate(words)}
        if not words:  # nothing glossed: a space that knows no word, so ranking's term is 0 for all
            return cls(row_of, torch.zeros(0, dims), torch.zeros(0))
        table = ppmi_table(glosses, row_of)  # (words, headwords)
        with torch.random.fork_rng(devices=[]):  # svd_lowrank starts from random vectors: seeded, the same
            torch.manual_seed(seed)  # vectors every run, and the caller's random state left as it was
            left, singular, right = torch.svd_lowrank(table, q=min(dims, *table.shape), niter=SVD_ITERATIONS)
        vectors = normalize(left * singular.sqrt(), dim=1)  # (words, dims): the rows of U·√S
        headwords_with = torch.bincount(table.indices()[0], minlength=len(words)).float()  # (words,)
        idf = torch.log1p(len(glosses) / headwords_with)  # never 0: a word in every gloss still counts
        headword_vectors = right / singular.sqrt().clamp(min=1e-6)  # (headwords, dims); a tiny glossary has
        # directions of singular value 0
        space = cls(row_of, vectors, idf, table=table, headword_vectors=headword_vectors)
        space.place_glosses(glosses)
        return space

    def place_glosses(self, glosses: dict[str, list[str]]) -> None:
        """Fill `forms`, `form_row`, `gloss_vectors` and `first_gloss`: every readable gloss of every
        headword, each the IDF-weighted sum of its words' vectors (as `text_vector`, all in one product)."""
        gloss_of, word_of, counts = [], [], []  # one (gloss, word) pair per word of each readable gloss
        placed = 0  # readable glosses so far
        for form in sorted(glosses):
            readable = 0
            for gloss in glosses[form]:
                rows = self.known_rows(gloss)
                gloss_of += [placed + readable] * len(rows)
                word_of += rows
                readable += bool(rows)
            if readable:
                self.form_row[form] = len(self.forms)
                self.forms.append(form)
                counts.append(readable)
                placed += readable
        word_of = torch.tensor(word_of, dtype=torch.long)
        pairs = torch.stack([torch.tensor(gloss_of, dtype=torch.long), word_of])  # (2, pairs)
        self.gloss_words = torch.sparse_coo_tensor(pairs, self.idf[word_of], (placed, len(self.row_of)),
                                                   check_invariants=True).coalesce()  # (glosses, words)
        self.gloss_vectors = self.placed_glosses()
        self.first_gloss = torch.cumsum(torch.tensor([0, *counts]), dim=0)  # (forms + 1,)

    def with_vectors(self, tuned: "GlossVectors") -> "GlossSpace":
        """The same space with other word vectors (`seq2seq.gloss_tuning`: one set or several side by side),
        every gloss placed again."""
        if tuned.words != sorted(self.row_of):
            raise UserError(f"{tuned.source}: its word vectors were tuned on another lexicon "
                            f"({len(tuned.words)} words; this one has {len(self.row_of)}); rank with the "
                            f"lexicon the model was trained with, or delete {tuned.source} to use the "
                            "untuned space")
        space = replace(self, vectors=tuned.vectors, members=tuned.members)
        space.gloss_vectors = space.placed_glosses()
        return space

    def placed_glosses(self) -> torch.Tensor:
        """(glosses, members·dims): every gloss as `text_vector` places it, all in one product."""
        return unit_parts(torch.sparse.mm(self.gloss_words, self.vectors), self.members)

    def known_rows(self, text: str) -> list[int]:
        """The rows in `vectors` of the text's meaning-carrying words that the space knows."""
        return [self.row_of[word] for word in gloss_words(text) if word in self.row_of]

    def text_vector(self, text: str) -> torch.Tensor | None:
        """(members·dims,): the IDF-weighted sum of the text's known words, each member's part of length
        1/√members; None if none is known."""
        rows = torch.tensor(self.known_rows(text), dtype=torch.long)
        if not len(rows):
            return None
        return unit_parts((self.vectors[rows] * self.idf[rows, None]).sum(dim=0), self.members)

    def closeness(self, word: str, candidates: list[str]) -> list[float | None]:
        """For each candidate, the best cosine between the word and one of the candidate's glosses; None
        when the word or the candidate is not in the space."""
        target = self.text_vector(word)
        if target is None:
            return [None] * len(candidates)
        rows = [self.form_row.get(candidate) for candidate in candidates]
        return [None if i is None else float(self.glosses_of(i).mv(target).max()) for i in rows]

    def glosses_of(self, i: int) -> torch.Tensor:
        """(its glosses, dims): the gloss vectors of forms[i]."""
        return self.gloss_vectors[self.first_gloss[i] : self.first_gloss[i + 1]]

    def nearest(self, word: str, limit: int, allowed: Callable[[str], bool] = lambda form: True) -> list[str]:
        """Up to `limit` headwords whose best gloss is nearest the word, nearest first, of those `allowed`
        (ties by spelling)."""
        target = self.text_vector(word)
        if target is None or limit <= 0:
            return []
        owner = torch.repeat_interleave(torch.arange(len(self.forms)), self.first_gloss.diff())  # (glosses,)
        best = torch.full((len(self.forms),), -torch.inf).scatter_reduce(
            0, owner, self.gloss_vectors.mv(target), reduce="amax")  # (forms,): each one's best gloss
        found = []
        for i in best.argsort(descending=True, stable=True).tolist():  # stable: ties stay by spelling
            if allowed(self.forms[i]):
                found.append(self.forms[i])
                if len(found) == limit:
                    break
        return found


@dataclass(eq=False)  # compared and hashed by identity: CandidateLexicon keeps one placed space per instance
class GlossVectors:
    """Word vectors tuned for one model (`seq2seq.gloss_tuning`), as its folder keeps them."""

    words: list[str]  # the space's words, sorted: row i of `vectors` is words[i]
    vectors: torch.Tensor  # (words, members·dims): the members' vectors side by side
    source: str = "gloss vectors"  # where they were read from, for messages
    members: int = 1  # tuned from this many seeds; closeness is the mean of their cosines


def ppmi_table(glosses: dict[str, list[str]], row_of: dict[str, int]) -> torch.Tensor:
    """(words, headwords by spelling), sparse: max(0, log p(word, headword) / (p(word)·p(headword))) where
    the word is in one of the headword's glosses, counted once per headword.

    Positive PMI, not raw counts: "person" glosses thousands of headwords and would otherwise dominate
    every direction; PMI asks how much more often two things meet than chance would have them meet.
    """
    rows, columns = [], []
    for column, form in enumerate(sorted(glosses)):  # by spelling, whatever order the dict was filled in
        for word in sorted({word for gloss in glosses[form] for word in gloss_words(gloss)}):
            rows.append(row_of[word])
            columns.append(column)
    rows, columns = torch.tensor(rows, dtype=torch.long), torch.tensor(columns, dtype=torch.long)
    per_word = torch.bincount(rows, minlength=len(row_of)).float()  # headwords each word glosses
    per_form = torch.bincount(columns, minlength=len(glosses)).float()  # words each headword's glosses hold
    pmi = torch.log(len(rows) / (per_word[rows] * per_form[columns]))  # (pairs,)
    return torch.sparse_coo_tensor(torch.stack([rows, columns]), pmi.clamp(min=0),
                                   (len(row_of), len(glosses)), check_invariants=True).coalesce()


@dataclass
class GlossQuestion:
    """Ranking's question to the dictionary: does the candidate mean nearly what the word means?"""

    words: list[str]  # the English word of each source, by its index in the call
    space: GlossSpace

    def closeness(self, word_of: list[int], candidates: list[str]) -> list[float | None]:
        """For each candidate, its `GlossSpace.closeness` to words[word_of[i]]; None where unknown."""
        by_word: dict[int, list[int]] = {}
        for k, i in enumerate(word_of):
            by_word.setdefault(i, []).append(k)
        found: list[float | None] = [None] * len(candidates)
        for i, mine in by_word.items():
            for k, value in zip(mine, self.space.closeness(self.words[i], [candidates[k] for k in mine])):
                found[k] = value
        return found
