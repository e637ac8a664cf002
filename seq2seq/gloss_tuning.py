"""Tuning the gloss space on the near misses the model trains on: the dictionary's sense of meaning,
taught which meanings the corpus calls near.

    start: the gloss space (seq2seq/gloss_space.py: latent semantic analysis of the headwords' glosses)
    each training pair (lend, 借りる): the word's vector, and the vectors of 借りる's glosses
    score(word, d) = the best cosine between the word and one of d's glosses
    loss: which of the batch's targets is this word's own? cross-entropy over score / τ
    what is learnt: the word vectors (or the headword vectors they are made of); a gloss moves with the
    words it is made of

Why: the space knows which English words gloss the same headwords, not which headwords a quiz would
call near misses of which words; the corpus knows the second, for its training words. And tuning
reaches words the model never trained on: "borrow" is a word of 借りる's glosses, so each step that pulls
lend towards 借りる's glosses moves borrow's vector too, towards lend. On 836 words the model never trained
on, ranking's near misses rose from 0.397 with the untuned space to 0.554 with one tuning (docs/RESULTS.md,
eleventh session).

A small dual encoder, both sides one bag of word vectors, trained with the batch's other targets as
negatives (as dense retrieval models are). It is tuned twice, once for each kind of member, with its own
order of batches, and ranking averages the members' cosines:
    SubwordMember    a word's vector is its own parameter plus the mean of its character n-grams':
                     fits the training words closely, and what they learn reaches words spelled alike
    HeadwordMember   a word's vector is its row of the PMI table times learnt headword vectors: what the
                     pairs teach reaches every word that glosses the same headwords
On words the model never trained on, one member of each kind scored clearly better than two of one kind
(docs/RESULTS.md, thirteenth and fifteenth sessions): the kinds err differently, and what pays is
members that differ by more than the order of their batches. Both take about 5½ minutes on 2 cores after
training on the bundled corpus's 152,000 pairs: a step places only its batch's glosses (`WordBags`).
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from typing import NamedTuple

import torch
from torch import nn
from torch.nn.functional import cross_entropy, embedding_bag, normalize

from seq2seq.cli import ArgumentParser, run_main
from seq2seq.data import normalize_text
from seq2seq.gloss_space import GlossSpace, GlossVectors

TEMPERATURE = 0.1  # τ: cosines live in [-1, 1]; dividing by 0.1 lets the softmax be sure (on the
# validation words 0.05 and 0.2 did no better)
BATCH_SIZE = 512  # pairs a step; each is scored against every target of its batch
LEARNING_RATE = 3e-3  # Adam; 1e-3 learnt too slowly in 8 epochs, 1e-2 no better than 3e-3


class WordBags(NamedTuple):
    """Rows of weighted English words, packed one after another (compressed sparse rows): the words of row
    i are words[starts[i]:starts[i + 1]], each with its weight (its IDF). A row's vector is the weighted sum
    of its words' vectors, as `GlossSpace.text_vector` makes it."""

    starts: torch.Tensor  # (rows + 1,)
    words: torch.Tensor  # (entries,): rows in the space's word vectors
    weights: torch.Tensor  # (entries,)

    @classmethod
    def from_sparse(cls, table: torch.Tensor) -> "WordBags":
        """From a sparse (rows, words) table of weights, such as GlossSpace.gloss_words."""
        table = table.coalesce()  # entries sorted by row, then word
        rows, words = table.indices()
        starts = torch.zeros(table.shape[0] + 1, dtype=torch.long)
        starts[1:] = torch.cumsum(torch.bincount(rows, minlength=table.shape[0]), dim=0)
        return cls(starts, words, table.values())

    def sums(self, vectors: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """(len(rows), dims): the weighted sum of the word vectors (words, dims) of each of the rows, and
        only of those: a step reads the few thousand glosses of its batch, not all 65,000."""
        lengths = self.starts[rows + 1] - self.starts[rows]  # (len(rows),)
        offsets = torch.cumsum(lengths, dim=0) - lengths  # where each row's words begin in `entries`
        shift = torch.repeat_interleave(self.starts[rows] - offsets, lengths)  # packed place → own place
        entries = torch.arange(int(lengths.sum())) + shift  # (the rows' words,)
        return embedding_bag(self.words[entries], vectors, offsets, mode="sum",
                             per_sample_weights=self.weights[entries])


def tuning_pairs(space: GlossSpace, words: list[str], targets: list[str]) -> tuple[WordBags, torch.Tensor]:
    """The pairs the space can read: each pair's word as the IDF-weighted bag of its own words, and (pairs,)
    the row of each target in space.forms. Pairs whose word has no known word, or whose target has no
    readable gloss, are dropped."""
    lengths, word_rows, target_rows = [], [], []
    for word, target in zip(words, targets):
        rows = space.known_rows(word)
        form = space.form_row.get(normalize_text(target))
        if rows and form is not None:
            lengths.append(len(rows))
            word_rows += rows
            target_rows.append(form)
    word_rows = torch.tensor(word_rows, dtype=torch.long)
    starts = torch.cumsum(torch.tensor([0, *lengths], dtype=torch.long), dim=0)
    return WordBags(starts, word_rows, space.idf[word_rows]), torch.tensor(target_rows, dtype=torch.long)


def padded_gloss_rows(space: GlossSpace) -> tuple[torch.Tensor, torch.Tensor]:
    """(forms, most glosses) row of each form's glosses in space.gloss_vectors, padded with 0, and the
    (forms, most glosses) mask of the real ones."""
    counts = space.first_gloss.diff()  # (forms,)
    slots = torch.arange(int(counts.max()) if len(counts) else 0)  # (most glosses,)
    present = slots[None, :] < counts[:, None]  # (forms, most glosses)
    rows = torch.where(present, space.first_gloss[:-1, None] + slots[None, :], 0)
    return rows, present


def best_gloss_cosines(words: torch.Tensor, glosses: torch.Tensor, rows: torch.Tensor,
                       present: torch.Tensor) -> torch.Tensor:
    """(words, forms): the best cosine between each word (words, dims) and one of each form's glosses,
    the forms given by their `rows` and `present` (forms, most glosses) into glosses (some glosses, dims)."""
    cosines = torch.einsum("wd,fgd->wfg", words, glosses[rows])  # (words, forms, most glosses)
    return cosines.masked_fill(~present[None], -2.0).amax(dim=-1)  # below any cosine: never the best


def batch_loss(vectors: torch.Tensor, glosses: WordBags, queries: WordBags, batch: torch.Tensor,
               answers: torch.Tensor, rows: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """How surely each pair of the batch picks its own target out of the batch's targets by best gloss
    cosine: cross-entropy over the batch's distinct targets, the others serving as negatives."""
    forms, own = torch.unique(answers[batch], return_inverse=True)  # the batch's targets, and each pair's
    rows, present = rows[forms], present[forms]  # (batch's targets, most glosses)
    needed = rows[present]  # the glosses of the batch's targets, the only ones placed this step
    local = torch.zeros_like(rows).masked_scatter_(present, torch.arange(len(needed)))  # rows in `placed`
    words = normalize(queries.sums(vectors, batch), dim=1)  # (batch, dims)
    placed = normalize(glosses.sums(vectors, needed), dim=1)  # (needed glosses, dims)
    scores = best_gloss_cosines(words, placed, local, present)  # (batch, batch's targets)
    return cross_entropy(scores / TEMPERATURE, own)


NGRAM_SIZES = (3, 4, 5)  # characters in an n-gram of a word, its ends marked: fastText's idea
MIN_NGRAM_WORDS = 2  # an n-gram in one word only would be a second copy of that word's own vector


def character_ngrams(word: str) -> set[str]:
    """The word's n-grams of NGRAM_SIZES characters, its ends marked by < and >: lender → <le, len, end,
    nde, der, er>, <len, lend, …, shared with lend, lends and lending; the marks tell the prefix len- from
    the len inside silent."""
    marked = f"<{word}>"
    return {marked[i:i + size] for size in NGRAM_SIZES for i in range(len(marked) - size + 1)}


def ngram_bags(words: list[str]) -> tuple[WordBags, int]:
    """Each word (by row) as the bag of its n-grams that at least MIN_NGRAM_WORDS words of the list
    share, each weighing 1 / the word's count of them, and how many such n-grams there are."""
    ngrams_of = [character_ngrams(word) for word in words]
    counts = Counter(ngram for ngrams in ngrams_of for ngram in ngrams)
    shared = {ngram: i for i, ngram in enumerate(sorted(n for n, count in counts.items()
                                                        if count >= MIN_NGRAM_WORDS))}
    pairs = [(row, shared[ngram]) for row, ngrams in enumerate(ngrams_of)
             for ngram in ngrams if ngram in shared]
    rows, ids = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).T  # (entries,) each
    weights = 1 / torch.bincount(rows, minlength=len(words)).float()  # (words,): 1 / its shared n-grams
    table = torch.sparse_coo_tensor(torch.stack([rows, ids]), weights[rows], (len(words), len(shared)),
                                    check_invariants=True)  # (words, shared n-grams)
    return WordBags.from_sparse(table), len(shared)


class SubwordMember(nn.Module):
    """A word's vector is its own vector plus the mean of its shared character n-grams' vectors
    (`character_ngrams`), as fastText builds words. Its own starts where the untuned space has it and the
    n-grams at 0, so tuning starts from the untuned space.

    Why: most words ranking is asked about were never a training pair's word, and a vector of its own
    moves only when the word is a pair's word or in a target's gloss. Through its n-grams a word moves
    with the words spelled like it: bafflement with baffle and baffled, lender with lend. Alone it
    scored 0.566 near miss on the validation words where a vector of its own alone scored 0.543; beside
    a HeadwordMember, 0.610 against 0.581 (docs/RESULTS.md, fifteenth session)."""

    def __init__(self, space: GlossSpace):
        super().__init__()
        self.spelling, ngrams = ngram_bags(sorted(space.row_of, key=space.row_of.get))
        self.vectors = nn.Parameter(space.vectors.clone())  # (words, dims)
        self.ngrams = nn.Parameter(torch.zeros(ngrams, space.vectors.shape[1]))  # (shared n-grams, dims)

    def forward(self) -> torch.Tensor:
        every_word = torch.arange(len(self.vectors))
        return self.vectors + self.spelling.sums(self.ngrams, every_word)  # (words, dims)


class HeadwordMember(nn.Module):
    """A word's vector is its row of the PMI table times learnt headword vectors, started where the
    untuned space's factors have them, each row scaled to length 1.

    Why: most words ranking is asked about were never a training pair's word, and a vector of its own
    moves only when the word is a pair's word or in a target's gloss (on the validation words, the fewer
    such moves a word's vector had, the fewer its near misses). Here a step that moves 借りる's vector
    moves every word that glosses 借りる, training word or not. Alone it scored about as a free vector per
    word does, on the rarely moved words too; but it fits the training pairs less closely and errs
    differently, and one member of each kind scored better than two of one kind (docs/RESULTS.md,
    thirteenth session)."""

    def __init__(self, space: GlossSpace):
        super().__init__()
        start = torch.sparse.mm(space.table, space.headword_vectors)  # (words, dims)
        scale = 1 / start.norm(dim=1).clamp(min=1e-12)  # (words,)
        rows = space.table.indices()[0]
        self.table = torch.sparse_coo_tensor(space.table.indices(), space.table.values() * scale[rows],
                                             space.table.shape, check_invariants=True).coalesce()
        # (words, headwords): a word's vector is its row of this times `headwords`
        self.headwords = nn.Parameter(space.headword_vectors.clone())  # (headwords, dims)

    def forward(self) -> torch.Tensor:
        return torch.sparse.mm(self.table, self.headwords)  # (words, dims)


MEMBER_KINDS = (SubwordMember, HeadwordMember)  # one of each: the nearest headwords scored 0.605 to 0.610
# near miss on 824 validation words by seed, where a free vector per word beside a HeadwordMember scored 0.582


def tune_gloss_space(space: GlossSpace, words: list[str], targets: list[str], epochs: int, seed: int,
                     log=print, kinds: tuple[type[nn.Module], ...] = MEMBER_KINDS) -> GlossVectors | None:
    """One set of word vectors per kind of member, each tuned (`tune_member`) with its own seed (seed,
    seed + 1, …), side by side; None when no pair can be read (a corpus whose targets the lexicon does
    not know)."""
    queries, answers = tuning_pairs(space, words, targets)
    if not len(answers):
        log("gloss space: no training pair has a target with glosses in the lexicon; ranking keeps the "
            "untuned space")
        return None
    rows, present = padded_gloss_rows(space)
    glosses = WordBags.from_sparse(space.gloss_words)
    started = time.perf_counter()
    tuned = []
    for number, kind in enumerate(kinds):
        def member_log(epoch: int, loss: float) -> None:
            log(f"gloss space: member {number + 1}/{len(kinds)} ({kind.__name__}), epoch {epoch}/{epochs}, "
                f"loss {loss:.3f} on {len(answers):,} pairs ({time.perf_counter() - started:.0f} s)")
        tuned.append(tune_member(kind(space), glosses, queries, answers, rows, present, epochs,
                                 seed + number, member_log))
    return GlossVectors(sorted(space.row_of), torch.cat(tuned, dim=1),  # the space's rows, by spelling
                        members=len(kinds))


def tune_member(member: nn.Module, glosses: WordBags, queries: WordBags, answers: torch.Tensor,
                rows: torch.Tensor, present: torch.Tensor, epochs: int, seed: int, log) -> torch.Tensor:
    """(words, dims): the word vectors `member()` tuned so that each pair's word picks its own target out
    of its batch by best gloss cosine; the seed orders the batches. `log(epoch, mean loss)` after each
    epoch."""
    optimizer = torch.optim.Adam(member.parameters(), lr=LEARNING_RATE)
    order = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        total = 0.0
        for batch in torch.randperm(len(answers), generator=order).split(BATCH_SIZE):
            loss = batch_loss(member(), glosses, queries, batch, answers, rows, present)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        log(epoch, total / len(answers))
    return member().detach()


def main(argv: list[str] | None = None) -> None:
    """python -m seq2seq.gloss_tuning FOLDER: tune (again) the gloss space of a trained model folder, on the
    training pairs of its own split; for folders trained before tuning existed, or with other epochs."""
    from seq2seq.pipeline import retune_folder  # here, not above: the pipeline itself imports this module

    parser = ArgumentParser(prog="python -m seq2seq.gloss_tuning", description=main.__doc__.split(";")[0])
    parser.add_argument("folder", help="a model folder written by train.py")
    parser.add_argument("--data", help="the CSV it was trained on (default: the file its last.pt names)")
    parser.add_argument("--epochs", type=int, help="passes over the training pairs (default: the folder's "
                        "train.gloss_epochs, or 8 where that is 0)")
    args = parser.parse_args(argv)
    retune_folder(args.folder, args.data, args.epochs)


if __name__ == "__main__":
    sys.exit(run_main(main))
