"""The whole job, one plain call per arrow of the design:

    CSV ─► pairs ─► split by word ─► tokenizer (train split only) ─► batches ─► model ─► trainer ─► folder

`train_from_csv` is what `train.py` calls; `distractors_for` is what `infer.py` calls.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch

from seq2seq.batching import Example, encode_pairs, encode_source, make_batches, with_empty_sources
from seq2seq.candidates import CandidateLexicon
from seq2seq.checkpoint import load_checkpoint
from seq2seq.config import Config, DecodeConfig, TrainConfig, load_json, resolve_model, with_overrides
from seq2seq.data import (DataError, check_template, correct_answers_by_word, lacks_japanese,
                          load_pairs, load_words, normalize_text, resolved_template, rows_of_kinds,
                          source_text, split_by_word, wanted_kinds, word_key)
from seq2seq.decoding import NEAR_IN_MEANING, SHARES_KANJI, Distractor, ReverseQuestion, distinct_outputs
from seq2seq.errors import UserError
from seq2seq.distributed import Distributed
from seq2seq.gloss_space import GlossQuestion, GlossVectors
from seq2seq.gloss_tuning import tune_gloss_space
from seq2seq.lexicon import load_forms, load_rejection_index, normalize_gloss
from seq2seq.model_folder import (ANSWERS, CONFIG, LAST_CHECKPOINT, VOCABULARY, WEIGHTS, TrainedModel,
                                  check_folder_can_be_written, load_answers, save_gloss_vectors, save_setup)
from seq2seq.models import build_model, num_parameters
from seq2seq.run_log import RunLog
from seq2seq.trainer import FitResult, Trainer, check_train_config, choose_device, choose_precision
from tokenizer import Tokenizer, train_tokenizer

BUNDLED_DATA = Path(__file__).resolve().parent.parent / "data"
BUNDLED_REJECTION_INDEX = BUNDLED_DATA / "rejection.csv.gz"  # every JMdict form per English gloss
BUNDLED_FORMS = BUNDLED_DATA / "ja_forms.txt.gz"  # every Japanese form in JMdict
BUNDLED_LEXICON = BUNDLED_DATA / "lexicon.csv.gz"  # common headwords with their POS: candidates to rank


@dataclass
class TrainSummary:
    fit: FitResult
    splits: dict[str, pd.DataFrame]
    trained: TrainedModel
    is_main: bool = True  # False in the other processes of a distributed run, which print nothing


def targets_are_correct(config: Config, pairs_have_refs: bool) -> bool:
    """Translation mode (targets are correct answers) or distractor mode (targets are near misses)."""
    mode = config.data.targets
    if mode == "auto":
        return not pairs_have_refs
    if mode not in ("correct", "distractors"):
        raise UserError(f"targets '{mode}' is not known; use auto, correct or distractors")
    return mode == "correct"


def report_correct_targets(pairs: pd.DataFrame, translation_mode: bool, log) -> None:
    """In distractor mode, say how many targets are also correct answers: trained on, but never output."""
    if translation_mode:
        return
    overlap = sum(target in correct for target, correct in zip(pairs["target"], pairs["correct"]))
    if overlap:
        log(f"note: {overlap} rows have a target that is also a correct answer for their word (noise "
            "augmentation makes such rows); they are trained on as given, and are still never output")


def refuse_to_replace(out: Path, overwrite: bool) -> None:
    """Checked before any work, so a finished model is never replaced by accident, and a folder that cannot
    be written is refused before the work whose result it was to hold."""
    check_folder_can_be_written(out, "--out")
    if (out / WEIGHTS).exists() and not overwrite:
        raise UserError(f"{out} already holds a trained model; pass --overwrite or choose another --out")


def train_from_csv(config: Config, data_path: str | Path, out: str | Path | None, progress: bool = True,
                   overwrite: bool = False, log: RunLog | None = None) -> TrainSummary:
    """Train a model on a CSV and, if `out` is given, write its model folder there.

    Everything that can fail on the user's input (the CSV, the split, the settings) is checked before the
    first file is written. Under torchrun every process runs this; only rank 0 writes.
    """
    folder = Path(out) if out is not None else None
    if folder is not None:
        refuse_to_replace(folder, overwrite)
    check_train_config(config.train)
    dist = Distributed.from_environment(choose_device(config.train.device).type)
    log = log or RunLog(echo=dist.is_main)
    config, pairs, splits, translation_mode = read_and_split(config, data_path, log)
    answers = correct_answers_by_word(pairs, translation_mode)
    train_inputs = model_inputs(splits["train"], answers, config)
    tokenizer = train_tokenizer(train_inputs + list(splits["train"]["target"]), config.tokenizer.vocab_size,
                                config.tokenizer.model_type, config.tokenizer.character_coverage)
    config = replace(config, model=resolve_model(config.model, tokenizer.vocab_size, tokenizer.pad_id))
    examples = encode_splits(splits, answers, tokenizer, config, data_path, log)
    run_info = {"data": str(Path(data_path).resolve()), "data_sha256": file_sha256(data_path)}
    trainer = make_trainer(config, tokenizer, folder, progress, log, dist, run_info)
    if folder is not None and dist.is_main:
        save_setup(folder, config, tokenizer, answers, splits["test"])
        log.attach(folder)
    return run_training(trainer, examples, config, tokenizer, answers, splits)


def resume_training(folder: str | Path, changes: dict, data_path: str | Path | None = None,
                    progress: bool = True, log: RunLog | None = None) -> TrainSummary:
    """Continue the run saved in `folder` from its last.pt, exactly where it stopped.

    `changes` may set only the training settings that do not change what is computed (RESUME_CHANGES);
    `data_path` is needed only if the CSV has moved, and must hold the same bytes.
    """
    folder = Path(folder)
    for name in (CONFIG, VOCABULARY, ANSWERS):
        if not (folder / name).is_file():
            raise UserError(f"{folder}: no {name}; --resume takes a model folder written by train.py")
    config = load_json(folder / CONFIG)
    refused = sorted(set(changes) - set(RESUME_CHANGES))
    if refused:
        raise UserError(f"--resume continues the saved settings; training setting(s) {', '.join(refused)} "
                        f"cannot change (these can: {', '.join(RESUME_CHANGES)})")
    config = with_overrides(config, "train", **changes)
    check_train_config(config.train)
    checkpoint = load_checkpoint(folder / LAST_CHECKPOINT)
    run = trained_on(checkpoint, folder / LAST_CHECKPOINT)
    data_path = Path(data_path or run["data"])
    check_same_data(data_path, run["data_sha256"])
    dist = Distributed.from_environment(choose_device(config.train.device).type)
    log = log or RunLog(echo=dist.is_main)
    _, _, splits, _ = read_and_split(config, data_path, log)
    tokenizer = Tokenizer.load(folder / VOCABULARY)
    answers = load_answers(folder / ANSWERS)
    examples = encode_splits(splits, answers, tokenizer, config, data_path, log)
    trainer = make_trainer(config, tokenizer, folder, progress, log, dist, run)
    trainer.resume_from(checkpoint)
    if dist.is_main:
        log.attach(folder)
    state = trainer.state
    log(f"resuming {folder} at step {state.step}: epoch {state.epoch}, {state.steps_in_epoch} steps into it")
    return run_training(trainer, examples, config, tokenizer, answers, splits)


# Training settings a resumed run may change: when to stop, where to run, how often to save.
RESUME_CHANGES = ("epochs", "time_budget_minutes", "patience", "device", "precision", "checkpoint_every",
                  "keep_epochs", "gloss_epochs")


def trained_on(checkpoint: dict, path: Path) -> dict:
    """What last.pt says the run was trained on: the CSV's path and its SHA-256."""
    run = checkpoint.get("run")
    if not (isinstance(run, dict) and isinstance(run.get("data"), str)
            and isinstance(run.get("data_sha256"), str)):
        raise UserError(f"{path}: does not say which data the run was trained on (written by an older "
                        "version, or edited); start again without --resume")
    return run


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_same_data(path: Path, sha256: str) -> None:
    if not path.is_file():
        raise UserError(f"{path}: the training data is gone; pass --data with its new place")
    if file_sha256(path) != sha256:
        raise UserError(f"{path} has changed since training began; resuming would train on other pairs "
                        "(restore the file, or start a new run without --resume)")


def model_inputs(pairs: pd.DataFrame, answers: dict[str, list[str]], config: Config) -> list[str]:
    """The encoder's text for each pair: its source word, or the source template filled with the word
    and the word's known correct answers (the same answers inference will fill in)."""
    data = config.data
    return [source_text(data.src_template, source, answers.get(word_key(source), ()), data.src_col,
                        data.ref_col)
            for source in pairs["source"]]


def encode_splits(splits: dict[str, pd.DataFrame], answers: dict[str, list[str]], tokenizer: Tokenizer,
                  config: Config, data_path, log) -> dict[str, list]:
    """Token ids of the training and validation pairs; pairs too long for the model are left out."""
    max_len = config.model.max_len
    train_examples, dropped = encode_pairs(splits["train"], tokenizer, max_len,
                                           model_inputs(splits["train"], answers, config))
    valid_examples, _ = encode_pairs(splits["valid"], tokenizer, max_len,
                                     model_inputs(splits["valid"], answers, config))
    if dropped:
        log(f"left out {dropped} training pairs longer than max_len {max_len} pieces")
    if config.train.translation_pairs:
        translations = translation_examples(splits["train"], answers, tokenizer, config)
        log(f"added {len(translations)} translation pairs (each training word alone → each of its "
            "correct answers)")
        train_examples = train_examples + translations
    if not train_examples and dropped:
        raise DataError(f"{data_path}: all {dropped} training pairs are longer than max_len {max_len} "
                        "pieces; shorten the cells, or raise max_len in the [model] table of a --config file")
    if not train_examples:
        raise DataError(f"{data_path}: no training pairs left after the split; add more words")
    return {"train": train_examples, "valid": valid_examples}


def translation_examples(train_pairs: pd.DataFrame, answers: dict[str, list[str]], tokenizer: Tokenizer,
                         config: Config) -> list[Example]:
    """A second task beside the near misses: each training word read alone, with each of its correct
    answers as the target.

    Why: to translate borrow the encoder has to learn what borrow means, and words it reads alike then
    tend to mean alike, which is what ranking's closeness measures. The source without ⟨sep⟩ and an
    answer is what tells the model which task it is asked; inference always shows the answer.
    """
    if not config.data.src_template:
        raise UserError("translation_pairs needs a source template that shows the correct answer "
                        "(the near-miss task); without one the targets already are what the word reads")
    words = sorted(set(train_pairs["source"]))
    rows = [(word, answer) for word in words for answer in answers.get(word_key(word), ())]
    examples, _ = encode_pairs(pd.DataFrame(rows, columns=["source", "target"]), tokenizer,
                               config.model.max_len)
    return examples


def run_training(trainer: Trainer, examples: dict[str, list], config: Config, tokenizer: Tokenizer,
                 answers: dict[str, list[str]], splits: dict[str, pd.DataFrame]) -> TrainSummary:
    """Fit, tune the gloss space, then continue with the best weights, as a reload of the folder would."""
    train = config.train

    def epoch_batches(epoch: int) -> list:
        """The same shuffle for an epoch every time it is asked for: that is what makes resume exact."""
        rng = np.random.default_rng([train.seed, epoch])
        pairs = with_empty_sources(examples["train"], train.empty_source_share, rng, tokenizer.eos_id)
        return make_batches(pairs, tokenizer, train.batch_size, rng, train.max_tokens)

    valid_batches = make_batches(examples["valid"], tokenizer, train.batch_size, max_tokens=train.max_tokens)
    fit = trainer.fit(epoch_batches, valid_batches)
    trainer.log.close()
    trainer.dist.barrier()  # rank 0 has written the best weights
    trainer.dist.close()
    tuned = None  # rank 0 alone tunes, after the barrier, so the other processes do not wait on it
    if fit.status != "interrupted" and trainer.dist.is_main:
        tuned = tune_meanings(config, splits["train"], trainer.folder, trainer.log)
    model = trainer.model
    if trainer.folder is not None and (trainer.folder / WEIGHTS).is_file():
        model.load_state_dict(torch.load(trainer.folder / WEIGHTS, map_location=trainer.device,
                                         weights_only=True))
    return TrainSummary(fit, splits, TrainedModel(model.eval(), tokenizer, config, answers, tuned),
                        trainer.dist.is_main)


def tune_meanings(config: Config, train_pairs: pd.DataFrame, folder: Path | None, log) -> GlossVectors | None:
    """The gloss space of the bundled lexicon tuned on the training pairs (`gloss_tuning`), saved in `folder`
    when there is one; None with train.gloss_epochs 0 or without the bundled lexicon."""
    if not config.train.gloss_epochs:
        return None
    candidates = load_candidate_lexicon("auto", load_lexicon("auto"))
    if candidates is None:
        log("gloss space: no bundled lexicon, so nothing to tune; ranking needs one anyway")
        return None
    tuned = tune_gloss_space(candidates.gloss_space, list(train_pairs["source"]), list(train_pairs["target"]),
                             config.train.gloss_epochs, config.train.seed, log)
    if tuned is not None and folder is not None:
        save_gloss_vectors(folder, tuned)
    return tuned


def read_and_split(config: Config, data_path: str | Path,
                   log) -> tuple[Config, pd.DataFrame, dict[str, pd.DataFrame], bool]:
    """The config with its source template resolved, the checked pairs, their split by word, and whether
    the targets are correct translations."""
    data = config.data
    check_template(data.src_template, data.src_col, data.ref_col)
    pairs = load_pairs(data_path, data.src_col, data.tgt_col, data.ref_col or None)
    translation_mode = targets_are_correct(config, pairs["correct"].map(len).any())
    if lacks_japanese(pairs["target"]):
        log(f"warning: {data_path}: no cell of column '{data.tgt_col}' holds Japanese (kana or kanji); if it "
            "is the wrong column, stop (Ctrl-C) and choose the right one with --tgt-col")
    template = resolved_template(data.src_template, data.src_col, data.ref_col, translation_mode)
    if template and translation_mode:  # a template given explicitly ("auto" is the word alone here)
        raise UserError("--src-template shows the model the correct answer, which in translation mode is its "
                        f"target: it would learn to copy; use it with distractor targets ({data.ref_col})")
    if data.held_out_words:
        pairs = without_held_out_words(pairs, data.held_out_words, data.src_col, log)
    report_correct_targets(pairs, translation_mode, log)
    kinds = wanted_kinds(pairs, data.kinds, str(data_path))  # checked on the whole file, before the split
    splits = split_by_word(pairs, data.valid_fraction, data.test_fraction, config.train.seed, str(data_path))
    if kinds is not None:  # after the split by word, so the held-out words do not depend on the kinds
        splits = {name: rows_of_kinds(rows, kinds) for name, rows in splits.items()}
    kinds_note = f" of kinds {','.join(kinds)}" if kinds is not None else ""
    sizes = "/".join(str(len(splits[name])) for name in ("train", "valid", "test"))
    log(f"{data_path}: {len(pairs)} pairs, {pairs['source'].map(word_key).nunique()} words; "
        f"train/valid/test pairs {sizes}{kinds_note}; "
        f"targets are {'correct translations' if translation_mode else 'distractors'}")
    return replace(config, data=replace(data, src_template=template)), pairs, splits, translation_mode


def without_held_out_words(pairs: pd.DataFrame, path: str, column: str, log) -> pd.DataFrame:
    """The pairs whose word is not in the CSV at `path` (e.g. another model's test.csv), so two models
    trained on different corpora can be scored on words neither has seen."""
    held_out = {word_key(word) for word in load_words(path, column)}
    keep = ~pairs["source"].map(word_key).isin(held_out)
    log(f"held out {int((~keep).sum())} pairs of {len(held_out)} words listed in {path}")
    kept = pairs[keep].reset_index(drop=True)
    if kept.empty:
        raise DataError(f"{path}: every word of the data is held out; nothing is left to train on")
    return kept


def make_trainer(config: Config, tokenizer: Tokenizer, folder: Path | None, progress: bool, log: RunLog,
                 dist: Distributed, run_info: dict) -> Trainer:
    """A freshly initialised model (seeded) on the chosen device and precision, ready to train."""
    torch.manual_seed(config.train.seed)
    model = build_model(config.model)
    device = dist.device(choose_device(config.train.device))
    dtype = choose_precision(config.train.precision, device)
    torch.manual_seed(config.train.seed + dist.rank)  # the same weights everywhere, but each its own dropout
    picked = " (auto)" if config.train.precision == "auto" else ""
    log(f"model: {config.model.arch}, {num_parameters(model):,} parameters, vocabulary "
        f"{tokenizer.vocab_size}; device {device}, precision {str(dtype).removeprefix('torch.')}{picked}"
        + (f"; {dist.world_size} processes" if dist.world_size > 1 else ""))
    return Trainer(model, config.train, tokenizer.pad_id, device, dtype, folder, progress, log, dist,
                   run_info)


def load_lexicon(setting: str) -> dict[str, frozenset[str]] | None:
    """'auto': the bundled JMdict rejection index if it is there; 'none': no lexicon; else a path to one."""
    if setting == "none":
        return None
    if setting == "auto":
        return load_rejection_index(BUNDLED_REJECTION_INDEX) if BUNDLED_REJECTION_INDEX.is_file() else None
    return load_rejection_index(setting)


def known_answers(trained: TrainedModel, word: str,
                  lexicon: dict[str, frozenset[str]] | None = None) -> set[str]:
    """Correct answers to exclude for `word`: those stored in the model folder and the lexicon's."""
    from_lexicon = (lexicon or {}).get(normalize_gloss(word), frozenset())
    return set(trained.answers.get(word_key(word), ())) | from_lexicon


def load_known_words(setting: str) -> frozenset[str] | None:
    """'auto': the bundled JMdict form list if it is there; 'none': any output allowed; else a path to one."""
    if setting == "none":
        return None
    if setting == "auto":
        return load_forms(BUNDLED_FORMS) if BUNDLED_FORMS.is_file() else None
    return load_forms(setting)


def load_candidate_lexicon(setting: str,
                           glossary: dict[str, frozenset[str]] | None = None) -> CandidateLexicon | None:
    """'auto': the bundled JMdict lexicon if it is there; 'none': rank the model's samples alone;
    else a path. `glossary` (the rejection index) gives its headwords' glosses."""
    if setting == "none":
        return None
    if setting == "auto":
        return CandidateLexicon.load(BUNDLED_LEXICON, glossary) if BUNDLED_LEXICON.is_file() else None
    return CandidateLexicon.load(setting, glossary)


def distractors_for(trained: TrainedModel, words: list[str], decode: DecodeConfig,
                    exclude: list[set[str]] | None = None,
                    lexicon: dict[str, frozenset[str]] | None = None,
                    known_words: frozenset[str] | None = None,
                    candidates: CandidateLexicon | None = None,
                    explain: list | None = None,
                    correct: list[set[str]] | None = None) -> list[list[Distractor]]:
    """`decode.n` distinct near misses per word, best first, none of them a known correct answer, and each
    one of `known_words` when that is given. With `explain`, one entry per word is appended there: ranking's
    candidates with the scores that placed them, or the decoding step by step (`decoding.distinct_outputs`).

    `correct` holds each word's own correct answers (a quiz file's Correct_Japanese): never output, and
    what a model that reads the answer is shown, before any other answers known for the word. `exclude`
    holds answers only to leave out (--exclude); they are shown only when nothing else is known.

    Ranking (decode.method "rank") also scores the words of `candidates` that share a kanji with the
    answer. Its generic-output term needs a model trained with empty sources; for one trained without
    (folders from before it existed), λ is 0 and candidates are ranked by likelihood alone.
    """
    words = [normalize_text(word) for word in words]
    given = exclude or [set() for _ in words]
    own = [{normalize_text(answer) for answer in mine} for mine in correct or [set() for _ in words]]
    excluded = [known_answers(trained, word, lexicon) | given[i] | own[i] for i, word in enumerate(words)]
    answers = [answers_read(trained, word, own[i], given[i], lexicon) for i, word in enumerate(words)]
    inputs = encoder_inputs(trained, words, answers)
    proposals = neighbours = reverse = meanings = None
    if decode.method == "rank" and candidates is not None:
        wanted = decode.rank_meaning or decode.gloss_weight  # else neither asks the gloss space
        space = candidates.space_for(trained.gloss_vectors) if wanted else None  # the model's tuned one
        proposals = [[(form, SHARES_KANJI)
                      for form in candidates.sharing_kanji(word, shown, decode.rank_lexicon)]
                     + [(form, NEAR_IN_MEANING)
                        for form in candidates.near_in_meaning(word, shown, decode.rank_meaning, space)]
                     for word, shown in zip(words, answers)]
        neighbours = [neighbour_inputs(trained,
                                       candidates.neighbour_words(word, shown, decode.rank_neighbours),
                                       lexicon)
                      for word, shown in zip(words, answers)]
        reverse = ReverseQuestion(answers,
                                  candidate_inputs(trained, candidates, lexicon, decode.reverse_keys))
        meanings = GlossQuestion(words, space) if decode.gloss_weight else None
    if not trained.config.train.empty_source_share:
        decode = replace(decode, generic_weight=0.0)
    return distinct_outputs(trained.model, trained.tokenizer, inputs, excluded, decode.n, decode,
                            trained.config.model.max_len, known_words, proposals, neighbours, reverse,
                            explain, meanings)


def retune_folder(folder: str | Path, data_path: str | Path | None, epochs: int | None) -> None:
    """Tune the gloss space of a trained model folder on its own training split, and save it there."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise UserError(f"{folder}: no {CONFIG}; pass a model folder written by train.py")
    config = load_json(folder / CONFIG)
    if data_path is None:
        data_path = trained_on(load_checkpoint(folder / LAST_CHECKPOINT), folder / LAST_CHECKPOINT)["data"]
    epochs = epochs if epochs is not None else (config.train.gloss_epochs or TrainConfig.gloss_epochs)
    config = with_overrides(config, "train", gloss_epochs=epochs)
    check_train_config(config.train)
    log = RunLog()
    _, _, splits, _ = read_and_split(config, data_path, log)
    if tune_meanings(config, splits["train"], folder, log) is not None:
        log(f"gloss space: tuned vectors saved in {folder}")


def candidate_inputs(trained: TrainedModel, candidates: CandidateLexicon,
                     lexicon: dict[str, frozenset[str]] | None,
                     limit: int) -> Callable[[str], tuple[str, ...]]:
    """candidate → what the encoder would read if the candidate were the answer: up to `limit` of the
    English keys it translates, those with the fewest answers first (where it is most nearly *the*
    translation; ties by spelling), each with that key's answers. Empty when the lexicon gives it no key
    with known answers."""

    @functools.lru_cache(maxsize=None)
    def inputs_of(candidate: str) -> tuple[str, ...]:
        keyed = readable_words(trained, candidates.keys_by_form.get(candidate, ()), lexicon)
        chosen = sorted(keyed, key=lambda item: (len(item[1]), item[0]))[:limit]
        return tuple(encoder_inputs(trained, [key for key, _ in chosen], [shown for _, shown in chosen]))

    return inputs_of


def neighbour_inputs(trained: TrainedModel, neighbours: list[str],
                     lexicon: dict[str, frozenset[str]] | None) -> list[str]:
    """What the encoder would read for each related word (those whose answers are known)."""
    known = readable_words(trained, neighbours, lexicon)
    return encoder_inputs(trained, [word for word, _ in known], [shown for _, shown in known])


def readable_words(trained: TrainedModel, words: Iterable[str],
                   lexicon: dict[str, frozenset[str]] | None) -> list[tuple[str, list[str]]]:
    """(word, the answers it is read with) for each word the model can read: all of them for a model that
    reads the word alone, those with known answers for one whose source template shows them."""
    shown = [(word, answers_shown(trained, word, set(), lexicon)) for word in words]
    return [(word, answers) for word, answers in shown if answers or not trained.config.data.src_template]


def answers_shown(trained: TrainedModel, word: str, given: set[str],
                  lexicon: dict[str, frozenset[str]] | None) -> list[str]:
    """The correct answers a word is read and ranked with: those stored with the model, else the ones
    given (--exclude), else the lexicon's; empty when nobody knows them."""
    return sorted(trained.answers.get(word_key(word)) or given
                  or (lexicon or {}).get(normalize_gloss(word), ()))


def answers_read(trained: TrainedModel, word: str, own: set[str], given: set[str],
                 lexicon: dict[str, frozenset[str]] | None) -> list[str]:
    """The correct answers shown beside a word: its own (a quiz file's), else those of `answers_shown`."""
    return sorted(own) or answers_shown(trained, word, given, lexicon)


def encoder_inputs(trained: TrainedModel, words: list[str], answers: list[list[str]]) -> list[str]:
    """What the encoder reads for each word: the word, or, for a model trained with a source template,
    the template filled with the word and its correct answers (see `answers_shown`)."""
    data = trained.config.data
    if not data.src_template:
        return words
    for word, correct in zip(words, answers):
        if not correct:
            raise UserError(f"'{word}': this model reads the correct answer beside the word (source template "
                            f"{data.src_template!r}); give it with --exclude")
    return [fitted_source(trained, word, correct) for word, correct in zip(words, answers)]


def fitted_source(trained: TrainedModel, word: str, correct: Iterable[str]) -> str:
    """The template filled with the word and as many of its sorted correct answers as fit the encoder.

    Why: a word with a dozen answers ('beginning') can spell out longer than max_len pieces. Training
    leaves such pairs out (0.3% of the bundled corpus); at inference the word is still answered, seeing
    the first answers that fit, rather than refused.
    """
    data, max_len = trained.config.data, trained.config.model.max_len
    answers = sorted(correct)
    text = source_text(data.src_template, word, answers, data.src_col, data.ref_col)
    while len(answers) > 1 and len(encode_source(trained.tokenizer, text)) > max_len:
        answers = answers[:-1]
        text = source_text(data.src_template, word, answers, data.src_col, data.ref_col)
    return text
