"""Putting trained models side by side: one Markdown table and one figure of their validation curves.

    model folders ─► read_model (weights, metrics.csv, test.csv) ─► ModelReport each ─► comparison.md
                                                                                     └► valid_loss.png

What a student wants to know when a Transformer and a GRU were trained on the same data: how big each
is, how fast it trains, how soon it reaches its best validation loss, how good that loss is, and (when
the targets were correct translations) how often its single best guess for an unseen word is right.
The comparison is only fair on the same test words, so folders with different test splits are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from seq2seq.data import DataError, load_pairs, normalize_text, word_key
from seq2seq.decoding import WORDS_PER_CHUNK, encode_sources, generate, greedy_pick
from seq2seq.errors import UserError
from seq2seq.model_folder import METRICS, TEST_SPLIT, TrainedModel, load_model, write_atomic
from seq2seq.models import num_parameters
from seq2seq.pipeline import targets_are_correct
from seq2seq.plotting import MatplotlibMissing, new_figure, save_png
from seq2seq.run_log import best_row

TABLE, FIGURE = "comparison.md", "valid_loss.png"
CURVE_COLUMNS = ["epoch", "valid_loss", "elapsed_s"]


class ExactMatch(NamedTuple):
    hits: int  # test words whose greedy output is one of their targets
    words: int  # distinct test words

    @property
    def rate(self) -> float:
        return self.hits / self.words if self.words else 0.0


@dataclass
class ModelReport:
    """One row of the comparison, and the curve behind it."""

    folder: Path
    arch: str  # "transformer", or "gru, additive attention"
    parameters: int
    tokens_per_s: float  # training speed, mean over epochs
    epochs: int  # epochs run
    best_epoch: int  # the epoch whose weights model.pt holds
    seconds_to_best: float  # wall-clock training time until the end of best_epoch
    valid_loss: float  # best validation loss (per target token)
    valid_ppl: float
    exact_match: ExactMatch | None  # None: a distractor-mode model, whose targets are not answers
    curve: pd.DataFrame  # one row per epoch: epoch, valid_loss, elapsed_s

    @property
    def label(self) -> str:
        return f"{self.folder.name} ({self.arch})"


@dataclass
class Comparison:
    table: Path  # the Markdown file written
    figure: Path | None  # the PNG, or None when matplotlib is missing
    markdown: str


# --- reading one model folder ---------------------------------------------------------------------------


def read_metrics(folder: Path) -> pd.DataFrame:
    """metrics.csv, checked: the trainer writes one row per epoch, so no rows means no finished epoch."""
    path = folder / METRICS
    if not path.is_file():
        raise UserError(f"{folder}: no {METRICS}; pass a folder written by train.py")
    metrics = pd.read_csv(path)
    missing = [column for column in CURVE_COLUMNS + ["valid_ppl", "tokens_per_s"]
               if column not in metrics.columns]
    if missing or metrics.empty:
        raise UserError(f"{path}: no epochs recorded or columns missing ({', '.join(missing) or 'no rows'})")
    return metrics


def read_test_split(folder: Path) -> pd.DataFrame:
    """test.csv as pairs (source, target, correct); without test words there is nothing to compare on."""
    path = folder / TEST_SPLIT
    if not path.is_file():
        raise UserError(f"{folder}: no {TEST_SPLIT}; train it again with the current "
                        "train.py, which records it")
    try:
        return load_pairs(path)
    except DataError as err:
        raise UserError(f"{folder}: no usable test split (was test_fraction 0?): {err}") from None


def is_translation_mode(trained: TrainedModel, test: pd.DataFrame) -> bool:
    """Were the targets correct translations? Decided as training decided it, from the setting and from
    whether the data had correct answers (a test split has them exactly when the training CSV did)."""
    return targets_are_correct(trained.config, bool(test["correct"].map(len).any()))


def describe_arch(trained: TrainedModel) -> str:
    model = trained.config.model
    return model.arch if model.arch == "transformer" else f"{model.arch}, {model.attention} attention"


# --- exact match ------------------------------------------------------------------------------------------


def targets_by_word(test: pd.DataFrame) -> dict[str, set[str]]:
    """Each test word (first spelling) → all its targets: a word has several rows, and any one is right."""
    by_key: dict[str, tuple[str, set[str]]] = {}
    for source, target in zip(test["source"], test["target"]):
        by_key.setdefault(word_key(source), (source, set()))[1].add(target)
    return dict(by_key.values())


def greedy_outputs(trained: TrainedModel, words: list[str]) -> list[str | None]:
    """The single most likely output for each word, one argmax per step; None where it never ended."""
    outputs: list[str | None] = []
    for start in range(0, len(words), WORDS_PER_CHUNK):
        memory = encode_sources(trained.model, trained.tokenizer, words[start : start + WORDS_PER_CHUNK],
                                trained.config.model.max_len)
        for ids in generate(trained.model, memory, trained.tokenizer, trained.config.decode.max_len,
                            greedy_pick()):
            outputs.append(None if ids is None else normalize_text(trained.tokenizer.decode(ids)))
    return outputs


def exact_match(trained: TrainedModel, test: pd.DataFrame) -> ExactMatch:
    """How many test words get one of their targets as the greedy output."""
    targets = targets_by_word(test)
    outputs = greedy_outputs(trained, list(targets))
    return ExactMatch(sum(out in known for out, known in zip(outputs, targets.values())), len(targets))


# --- the comparison ---------------------------------------------------------------------------------------


def read_model(folder: Path, test: pd.DataFrame) -> ModelReport:
    """Everything the table and the figure show about one model folder; `test` is its test split."""
    trained = load_model(folder)
    metrics = read_metrics(folder)
    best = best_row(metrics, trained.config.train.metric)  # the epoch model.pt holds
    return ModelReport(
        folder=folder, arch=describe_arch(trained), parameters=num_parameters(trained.model),
        tokens_per_s=float(metrics["tokens_per_s"].mean()), epochs=int(metrics["epoch"].max()),
        best_epoch=int(best["epoch"]), seconds_to_best=float(best["elapsed_s"]),
        valid_loss=float(best["valid_loss"]), valid_ppl=float(best["valid_ppl"]),
        exact_match=exact_match(trained, test) if is_translation_mode(trained, test) else None,
        curve=metrics[CURVE_COLUMNS],
    )


def read_test_splits(folders: list[Path]) -> list[pd.DataFrame]:
    """Each folder's test split, which must be the same words and targets in all of them: a folder with
    another split was trained on other data, split or seed, and its scores would not be comparable."""
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder}: no such folder; pass model folders written by train.py")
    tests = [read_test_split(folder) for folder in folders]
    for folder, test in zip(folders[1:], tests[1:]):
        if not test[["source", "target"]].equals(tests[0][["source", "target"]]):
            raise UserError(f"{folder}: its test split differs from {folders[0]}'s (other data, "
                            "split or seed), so the comparison would not be fair; train both on "
                            "the same --data and --seed")
    return tests


def compare_folders(folders: list[str | Path]) -> tuple[list[ModelReport], pd.DataFrame]:
    """A report per model folder, and the test split they share."""
    folders = [Path(folder) for folder in folders]
    tests = read_test_splits(folders)
    return [read_model(folder, test) for folder, test in zip(folders, tests)], tests[0]


# --- writing it down --------------------------------------------------------------------------------------


def format_exact_match(score: ExactMatch | None) -> str:
    return "n/a (distractor mode)" if score is None else f"{score.rate:.1%} ({score.hits}/{score.words})"


def markdown_table(reports: list[ModelReport]) -> str:
    header = ["model", "architecture", "parameters", "training tokens/s (mean)", "epochs (best)",
              "time to best valid (s)", "best valid loss", "best valid ppl", "exact match, greedy, test"]
    rows = [[f"`{r.folder.name}`", r.arch, f"{r.parameters:,}", f"{r.tokens_per_s:,.0f}",
             f"{r.epochs} ({r.best_epoch})", f"{r.seconds_to_best:,.1f}", f"{r.valid_loss:.3f}",
             f"{r.valid_ppl:.2f}", format_exact_match(r.exact_match)]
            for r in reports]
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines) + "\n"


def markdown(reports: list[ModelReport], test: pd.DataFrame, title: str, command: str, figure: bool) -> str:
    """The whole comparison.md: the table, what the columns mean, and the command that made it."""
    words = test["source"].map(word_key).nunique()
    parts = [
        f"# {title}\n",
        markdown_table(reports),
        (f"Test split: {words} words ({len(test)} pairs) never trained on, the same for every "
         "model. Exact match: the greedy output is one of the word's targets (translation mode "
         "only). Time to best: training time until the end of the epoch with the lowest validation "
         "loss, whose weights the folder keeps.\n"),
        f"![validation loss against epochs and seconds]({FIGURE})\n" if figure else "",
        f"Made with:\n\n```\n{command}\n```\n",
    ]
    return "\n".join(part for part in parts if part)


def plot_valid_loss(curves: dict[str, pd.DataFrame], path: Path) -> bool:
    """Validation loss against epochs (left) and against wall-clock seconds (right), a line per model:
    `curves` maps a label to its metrics.csv rows (epoch, valid_loss, elapsed_s). Returns False, writing
    nothing, when matplotlib is not installed (it is an optional extra)."""
    try:
        figure = new_figure(10, 4)
    except MatplotlibMissing:
        return False
    by_epoch, by_time = figure.subplots(1, 2, sharey=True)
    for label, curve in curves.items():
        by_epoch.plot(curve["epoch"], curve["valid_loss"], marker="o", label=label)
        by_time.plot(curve["elapsed_s"], curve["valid_loss"], marker="o", label=label)
    by_epoch.set(xlabel="epoch", ylabel="validation loss (per target token)", title="by epoch")
    by_time.set(xlabel="training time (s)", title="by wall-clock time")
    by_epoch.legend()
    save_png(figure, path)
    return True


def write_comparison(folders: list[str | Path], out: str | Path, title: str, command: str) -> Comparison:
    """Compare the model folders and write comparison.md (and valid_loss.png, given matplotlib) into `out`."""
    reports, test = compare_folders(folders)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    drawn = plot_valid_loss({report.label: report.curve for report in reports}, out / FIGURE)
    text = markdown(reports, test, title, command, drawn)
    write_atomic(out / TABLE, text.encode("utf-8"))
    return Comparison(out / TABLE, out / FIGURE if drawn else None, text)
