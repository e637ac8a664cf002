"""Did the distractors get better? Models and baselines answer the same words and are scored alike.

    evaluation CSV ─► EvalSet: words, correct answers, rejected forms, the data's own distractors
    model folders  ─► pipeline.distractors_for, as infer.py does ─────────────────────────┐
    baselines      ─► random, kanji, gloss, corpus, retrieval, tuned (seq2seq.baselines) ─┴► candidates
    candidates     ─► metrics.score, meaning from their English glosses (seq2seq.meaning)
                   ─► evaluation.md, summary.json, per_word.csv, per_candidate.csv

The words are a model's test split (never trained on) unless a CSV is given; models with different
test splits are refused without one, since their numbers would describe different words. Near misses
(wrong, real, close in meaning) are the first measure; character closeness, script and POS come second.
With --fit-words, each model is also asked for some of its own training words (seq2seq.training_fit).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

import pandas as pd

from seq2seq.baselines import (corpus_baseline, gloss_baseline, kanji_baseline, random_baseline,
                               retrieval_baseline)
from seq2seq.candidates import CandidateLexicon
from seq2seq.compare import (describe_arch, greedy_outputs, is_translation_mode, read_test_split,
                             targets_by_word)
from seq2seq.config import DecodeConfig, with_overrides
from seq2seq.data import DataError, correct_answers_by_word, load_pairs, normalize_text, word_key
from seq2seq.errors import UserError
from seq2seq.gloss_space import GlossSpace
from seq2seq.lexicon import normalize_gloss
from seq2seq.meaning import Embed, MeaningScorer, load_embedder, meaning_scorer
from seq2seq.metrics import (NEAR_THRESHOLD, Difference, Item, Scores, exact_match_rate, paired_difference,
                             score)
from seq2seq.model_folder import TEST_SPLIT, WEIGHTS, TrainedModel, load_model, write_atomic
from seq2seq.pipeline import (BUNDLED_DATA, distractors_for, load_known_words, load_lexicon,
                              targets_are_correct)
from seq2seq.training_fit import Fit, training_data, training_fit

# headwords with their POS: random and kanji baselines' pool
BUNDLED_LEXICON_TABLE = BUNDLED_DATA / "lexicon.csv.gz"
BUNDLED_TRAIN_DATA = BUNDLED_DATA / "distractors.csv.gz"  # the corpus and retrieval baselines' pairs
BASELINES = ("random", "kanji", "gloss", "corpus", "retrieval")  # the default: together they take seconds
KNOWN_BASELINES = BASELINES + ("tuned",)  # tuned needs a model folder with tuned gloss vectors
TABLE, SUMMARY, PER_WORD, PER_CANDIDATE = "evaluation.md", "summary.json", "per_word.csv", "per_candidate.csv"

COLUMNS = {  # summary key → table heading, in table order: near misses first among the quality columns
    "distinct": "distinct", "wrong": "wrong", "valid": "real word", "near_miss": "near miss",
    "meaning": "meaning (cos.)", "closeness": "closeness (chrF)",
    "edit_distance_norm": "edit distance (norm.)", "same_script": "same script", "same_pos": "same POS",
    "mined": "mined match", "shared": "shared across words",
    "exact_match": "exact match (greedy)", "fit": "fit (training words)",
}
DIFFERENCE_COLUMNS = ("near_miss", "meaning", "closeness", "edit_distance_norm", "same_script", "same_pos",
                      "mined", "shared")


@dataclass
class EvalSet:
    """The words to score on, and what is known about each (lists aligned with `words`)."""

    path: Path
    words: list[str]  # one spelling per word, in the CSV's order
    correct: list[frozenset[str]]  # the CSV's correct answers
    rejected: list[frozenset[str]]  # every known correct form: the CSV's and the rejection index's
    mined: list[frozenset[str]] | None  # the CSV's distractors per word; None when its targets are correct
    translation: bool  # the CSV's targets are correct answers (no Correct_Japanese column)
    answer_pos: list[frozenset[str] | None]  # the word's parts of speech in the lexicon (None: not in it)

    def items(self, candidates: list[list[str]]) -> list[Item]:
        mined = self.mined or [None] * len(self.words)
        return [Item(*fields) for fields in
                zip(self.words, self.correct, candidates, self.rejected, mined, self.answer_pos)]


@dataclass
class Resources:
    """The bundled tables evaluation reads (each None where it is missing); tests pass their own."""

    lexicon: dict[str, frozenset[str]] | None  # rejection index: English gloss → every correct form
    known_words: frozenset[str] | None  # every JMdict form: what counts as a real word
    pos_table: dict[str, frozenset[str]] | None  # headword → its coarse parts of speech
    word_pos: dict[str, frozenset[str]] | None = None  # English key → the POS of its correct headwords
    embed: Embed | None = None  # English texts → unit vectors (MiniLM), for the meaning columns
    candidates: CandidateLexicon | None = None  # lexicon words a ranking model scores beside its samples


@dataclass
class SystemResult:
    name: str
    kind: str  # "transformer", "gru, additive attention", or "baseline"
    candidates: list[list[str]]  # aligned with the EvalSet's words
    exact_match: float | None = None  # greedy exact match, for a model trained on correct translations
    fit: Fit | None = None  # its output for some of its training words (--fit-words)
    scores: Scores | None = field(default=None, repr=False)


@dataclass
class Evaluation:
    table: str  # the Markdown table, as printed
    files: list[Path]
    results: list[SystemResult]


def load_resources(embedder: Callable[[], Embed | None] = load_embedder) -> Resources:
    """The bundled rejection index, form list and POS tables, as infer.py and the baselines use them, and
    the embedder `embedder()` gives: the MiniLM model when it is installed (a note on stderr when not)."""
    glossary = load_lexicon("auto")
    candidates = (CandidateLexicon.load(BUNDLED_LEXICON_TABLE, glossary) if BUNDLED_LEXICON_TABLE.is_file()
                  else None)
    pos_table, word_pos = (candidates.pos_by_form, candidates.pos_by_word) if candidates else (None, None)
    return Resources(glossary, load_known_words("auto"), pos_table, word_pos, embedder(), candidates)


# --- what to evaluate on ------------------------------------------------------------------------------------


def parse_baselines(text: str) -> list[str]:
    """'random,corpus' → ['random', 'corpus']; 'none' or '' → []; an unknown name is refused."""
    names = [name.strip() for name in text.split(",") if name.strip() and name.strip() != "none"]
    for name in names:
        if name not in KNOWN_BASELINES:
            raise UserError(f"--baselines: '{name}' is not known; use {', '.join(KNOWN_BASELINES)} or none")
    return names


def choose_data(folders: list[Path], data: str | Path | None) -> Path:
    """The CSV to evaluate on: `data`, or else the test split the model folders share."""
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder}: no such folder; pass model folders written by train.py")
    if data is not None:
        return Path(data)
    if not folders:
        raise UserError("give at least one MODEL_DIR, or --data CSV to score the baselines alone")
    first = read_test_split(folders[0])
    for folder in folders[1:]:
        if not read_test_split(folder)[["source", "target"]].equals(first[["source", "target"]]):
            raise UserError(f"{folder}: its test split differs from {folders[0]}'s, so the "
                            "scores would describe different words; pass --data CSV to score "
                            "every model on the same words")
    return folders[0] / TEST_SPLIT


def read_eval_set(path: Path, resources: Resources) -> EvalSet:
    """The words of the CSV, their correct answers (and every rejected form), and its own distractors.

    A CSV with correct answers (Correct_Japanese) holds distractors as targets, as for training; one
    without holds correct translations (training's 'auto' rule).
    """
    pairs = load_pairs(path)
    translation = not pairs["correct"].map(len).any()
    answers = correct_answers_by_word(pairs, translation)
    targets = targets_by_word(pairs)  # first spelling → its targets, in the CSV's order
    words = list(targets)
    correct = [frozenset(answers.get(word_key(word), ())) for word in words]
    glosses = [normalize_gloss(word) for word in words]
    rejected = [frozenset(normalize_text(form) for form in (resources.lexicon or {}).get(gloss, ())) | known
                for gloss, known in zip(glosses, correct)]
    answer_pos = [(resources.word_pos or {}).get(gloss) for gloss in glosses]
    mined = None if translation else [frozenset(found) for found in targets.values()]
    return EvalSet(path, words, correct, rejected, mined, translation, answer_pos)


def read_train_pairs(train_data: str | Path) -> pd.DataFrame:
    """The corpus and retrieval baselines' pairs; errors name --train-data."""
    path = Path(train_data)
    if not path.is_file():
        raise UserError(f"{path}: file not found; pass an existing CSV of English/Japanese pairs with "
                        "--train-data")
    try:
        return load_pairs(path)
    except DataError as err:
        raise UserError(f"--train-data: {err}") from None


# --- the systems --------------------------------------------------------------------------------------------


def model_translates(folder: Path, trained: TrainedModel, eval_set: EvalSet) -> bool:
    """Was the model trained on correct translations? Its own test split says how its data was; without
    one, decide from its settings and the evaluation CSV."""
    if (folder / TEST_SPLIT).is_file():
        return is_translation_mode(trained, read_test_split(folder))
    return targets_are_correct(trained.config, not eval_set.translation)


def run_model(system: System, name: str, trained: TrainedModel, eval_set: EvalSet, n: int, seed: int,
              resources: Resources) -> SystemResult:
    """N distractors per word exactly as infer.py makes them (with the system's decoding settings), the
    CSV's correct answers excluded too; and, for a translation-mode model, its greedy exact match."""
    folder = system.folder
    decode = with_overrides(trained.config, "decode", n=n, seed=seed, **system.decode).decode
    candidates = distractors_for(trained, eval_set.words, decode, [set(c) for c in eval_set.correct],
                                 resources.lexicon, resources.known_words, resources.candidates)
    exact = None
    if model_translates(folder, trained, eval_set):
        exact = exact_match_rate(greedy_outputs(trained, eval_set.words), eval_set.correct)
    return SystemResult(name, describe_arch(trained), candidates, exact)


def tuned_space(models: list[TrainedModel], resources: Resources) -> GlossSpace:
    """The tuned gloss space of the first model that has one, for the tuned baseline."""
    tuned = next((trained.gloss_vectors for trained in models if trained.gloss_vectors is not None), None)
    if tuned is None:
        raise UserError("--baselines tuned: no model folder given has tuned gloss vectors "
                        "(gloss_vectors.pt); tune one with python -m seq2seq.gloss_tuning FOLDER, or leave "
                        "tuned out")
    return resources.candidates.space_for(tuned)


def run_baseline(name: str, eval_set: EvalSet, n: int, seed: int, train_pairs: pd.DataFrame | None,
                 resources: Resources, tuned: GlossSpace | None = None) -> SystemResult:
    if name in ("random", "kanji"):
        baseline = random_baseline if name == "random" else kanji_baseline
        candidates = baseline(eval_set.words, eval_set.correct, eval_set.rejected, resources.pos_table, n,
                              seed, eval_set.answer_pos)
    elif name in ("gloss", "tuned"):
        candidates = gloss_baseline(eval_set.words, eval_set.correct, eval_set.rejected, resources.candidates,
                                    n, tuned if name == "tuned" else None)
    elif name == "corpus":
        candidates = corpus_baseline(eval_set.words, eval_set.rejected, train_pairs, n)
    else:
        candidates = retrieval_baseline(eval_set.words, eval_set.rejected, train_pairs, n)
    return SystemResult(f"{name} baseline", "baseline", candidates)


@dataclass
class System:
    """A model folder and the decoding settings it is evaluated with (its own, less any given here)."""

    folder: Path
    decode: dict  # DecodeConfig fields to override
    weights: str = WEIGHTS  # the folder's weights file: model.pt, or one epoch's (epoch3.pt)


def parse_system(spec: str | Path) -> System:
    """'runs/x', 'runs/x@generic_weight=0,method=sample' or 'runs/x@weights=epoch3.pt': the same model
    decoded another way, or the same run after fewer epochs, is another system, scored word by word
    against the rest."""
    folder, _, settings = str(spec).partition("@")
    types = {f.name: f.type for f in fields(DecodeConfig)}
    decode, weights = {}, WEIGHTS
    for setting in filter(None, settings.split(",")):
        key, _, value = setting.partition("=")
        if key == "weights" and value:
            weights = value
            continue
        if key not in types or not value:
            raise UserError(f"{spec}: '{setting}' is no decoding setting; write DIR@key=value with a key of: "
                            f"weights, {', '.join(types)}")
        try:
            decode[key] = {"int": int, "float": float}.get(types[key], str)(value)
        except ValueError:
            raise UserError(f"{spec}: '{key}' must be {types[key]}, got '{value}'") from None
    return System(Path(folder), decode, weights)


def system_names(folders: list[Path]) -> list[str]:
    """Folder names, or the full paths where two folders share a name (runs/a/x and runs/b/x)."""
    names = [folder.name for folder in folders]
    return [str(folder) if names.count(folder.name) > 1 else folder.name for folder in folders]


# --- writing it down ----------------------------------------------------------------------------------------


def format_value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_of(result: SystemResult) -> dict:
    """The system's summary numbers with what only models have: greedy exact match and fit."""
    return {**result.scores.summary, "exact_match": result.exact_match,
            "fit": result.fit.rate if result.fit else None,
            "fit_words": len(result.fit.words) if result.fit else 0}


def markdown_table(results: list[SystemResult]) -> str:
    """One row per system: the summary averages (per word, then over words)."""
    header = ["system", "kind", "words", *COLUMNS.values()]
    rows = []
    for result in results:
        summary = summary_of(result)
        rows.append([f"`{result.name}`", result.kind, str(summary["words"]),
                     *(format_value(summary[key]) for key in COLUMNS)])
    return markdown_rows(header, rows)


def markdown_rows(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines) + "\n"


def differences(results: list[SystemResult]) -> dict[str, dict[str, Difference | None]]:
    """Every later system against the first, word by word, on the quality columns."""
    reference = results[0].scores.words
    return {result.name: {metric: paired_difference([row[metric] for row in reference],
                                                    [row[metric] for row in result.scores.words])
                          for metric in DIFFERENCE_COLUMNS}
            for result in results[1:]}


def format_difference(difference: Difference | None) -> str:
    """'**+0.084** (+0.052, +0.115)': bold where the 95% interval leaves out 0."""
    if difference is None:
        return "n/a"
    mean = f"**{difference.mean:+.3f}**" if difference.clear else f"{difference.mean:+.3f}"
    return f"{mean} ({difference.low:+.3f}, {difference.high:+.3f})"


def differences_table(by_system: dict[str, dict[str, Difference | None]], reference: str) -> str:
    """The paired differences from the reference system, one row per other system."""
    header = ["system", *(COLUMNS[metric] for metric in DIFFERENCE_COLUMNS)]
    rows = [[f"`{name}`", *(format_difference(by_metric[metric]) for metric in DIFFERENCE_COLUMNS)]
            for name, by_metric in by_system.items()]
    return (f"Difference from `{reference}`, word by word: the mean over words of (system − "
            f"`{reference}`) and its 95% paired bootstrap interval over the words; bold where the interval "
            "leaves out 0. It covers the draw of test words and of samples, not training noise.\n\n"
            + markdown_rows(header, rows))


def markdown(table: str, eval_set: EvalSet, results: list[SystemResult], n: int, command: str,
             by_system: dict[str, dict[str, Difference | None]]) -> str:
    """evaluation.md: the table, what the columns mean, the most repeated outputs, the command."""
    repeated = [f"- `{r.name}`: {top['output']} ({top['words']} words)"
                for r in results if (top := r.scores.summary["most_repeated"])]
    parts = [
        "# Distractor evaluation\n",
        table,
        (f"{len(eval_set.words)} words of `{eval_set.path}`, {n} candidates asked per word. Each number is a "
         "mean over a word's candidates, then over words (n/a: nothing to measure). distinct: distinct "
         "candidates out of n. wrong: not a correct form. real word: in the JMdict form list. near miss: "
         f"wrong real words whose meaning reaches {NEAR_THRESHOLD}, out of n. meaning: the highest cosine "
         "(all-MiniLM-L6-v2) between the English word and an English JMdict gloss of the candidate, over "
         "wrong candidates with glosses. closeness: character chrF (n = 1–2, "
         "β = 1) to the most similar correct answer, 0 for a copy. edit distance: normalised Levenshtein to "
         "the nearest correct answer (lower is closer). same script, same POS: like a correct answer (POS "
         "where the lexicon knows both). mined match: among the CSV's own distractors. shared across words: "
         "share of all outputs also given for another word (lower is better). exact match: greedy output is "
         "correct (translation-mode models). fit: share of a model's outputs for its own training words "
         "(--fit-words) that are among those words' training targets.\n"),
        differences_table(by_system, results[0].name) if by_system else "",
        "Most repeated output:\n\n" + "\n".join(repeated) + "\n" if repeated else "",
        f"Made with:\n\n```\n{command}\n```\n",
    ]
    return "\n".join(part for part in parts if part)


def rows_with_system(results: list[SystemResult], which: str) -> str:
    """The per-word (or per-candidate) rows of every system, in one CSV with a leading system column."""
    rows = [{"system": r.name, **row} for r in results for row in getattr(r.scores, which)]
    return pd.DataFrame(rows).to_csv(index=False)


def write_files(out: Path, eval_set: EvalSet, results: list[SystemResult], n: int, seed: int, command: str,
                table: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    by_system = differences(results)
    summary = {"data": str(eval_set.path), "words": len(eval_set.words), "n": n, "seed": seed,
               "command": command,
               "systems": [{"name": r.name, "kind": r.kind, **summary_of(r)} for r in results],
               "differences_from": results[0].name,
               "differences": {name: {metric: difference._asdict() if difference else None
                                      for metric, difference in by_metric.items()}
                               for name, by_metric in by_system.items()}}
    contents = {TABLE: markdown(table, eval_set, results, n, command, by_system),
                SUMMARY: json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                PER_WORD: rows_with_system(results, "words"),
                PER_CANDIDATE: rows_with_system(results, "items")}
    for name, text in contents.items():
        write_atomic(out / name, text.encode("utf-8"))
    return [out / name for name in contents]


# --- the whole evaluation -----------------------------------------------------------------------------------


def evaluate(folders: list[str | Path], data: str | Path | None = None, n: int = 5,
             baselines: list[str] = BASELINES, train_data: str | Path = BUNDLED_TRAIN_DATA,
             out: str | Path = "runs/evaluation", seed: int = 0, command: str = "",
             resources: Resources | None = None, fit_words: int = 0) -> Evaluation:
    """Score every model folder and baseline on the same words and write the four files into `out`.

    Every input is checked before the first model generates anything. `fit_words` > 0 also asks each
    model for that many of its training words (seq2seq.training_fit).
    """
    if n < 1:
        raise UserError(f"--n must be at least 1 (got {n})")
    if fit_words < 0:
        raise UserError(f"--fit-words must be 0 (off) or more (got {fit_words})")
    baselines = parse_baselines(",".join(baselines))
    folders_given = list(folders)
    systems = [parse_system(spec) for spec in folders_given]
    folders = [system.folder for system in systems]
    path = choose_data(folders, data)
    train_pairs = read_train_pairs(train_data) if {"corpus", "retrieval"} & set(baselines) else None
    fit_data = [training_data(folder) for folder in folders] if fit_words else [None] * len(folders)
    resources = resources or load_resources()
    if (({"random", "kanji"} & set(baselines) and resources.pos_table is None)
            or ({"gloss", "tuned"} & set(baselines) and resources.candidates is None)):
        raise UserError(f"{BUNDLED_LEXICON_TABLE}: not found; the random, kanji, gloss and tuned baselines "
                        "draw their words from it (see data/README.md), or leave them out with "
                        "--baselines corpus,retrieval")
    eval_set = read_eval_set(path, resources)
    models = [load_model(system.folder, weights=system.weights) for system in systems]
    tuned = tuned_space(models, resources) if "tuned" in baselines else None
    names = system_names([Path(str(spec)) for spec in folders_given])  # 'x', 'x@generic_weight=0'
    results = [run_model(system, name, trained, eval_set, n, seed, resources)
               for system, name, trained in zip(systems, names, models)]
    for system, trained, data_path, result in zip(systems, models, fit_data, results):
        if data_path is not None:
            result.fit = training_fit(system.folder, trained, data_path, fit_words, n, seed,
                                      resources.lexicon, resources.known_words, resources.candidates,
                                      system.decode)
    results += [run_baseline(name, eval_set, n, seed, train_pairs, resources, tuned) for name in baselines]
    scorer = meaning_scorer_for(results, eval_set, resources)
    for result in results:
        result.scores = score(eval_set.items(result.candidates), n, resources.known_words,
                              resources.pos_table, scorer.meaning if scorer else None)
    table = markdown_table(results)
    return Evaluation(table, write_files(Path(out), eval_set, results, n, seed, command, table), results)


def meaning_scorer_for(results: list[SystemResult], eval_set: EvalSet,
                       resources: Resources) -> MeaningScorer | None:
    """One meaning scorer for every system's candidates; None without the model or the rejection index."""
    if resources.embed is None or resources.lexicon is None:
        return None
    return meaning_scorer(resources.embed, resources.lexicon, eval_set.words, [r.candidates for r in results])
