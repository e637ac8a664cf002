"""Settings as data: one dataclass per concern, read from TOML, written beside the weights as JSON.

A TOML file has one table per dataclass, each optional:

    [model]
    d_model = 128
    [train]
    epochs = 5

Unknown tables or keys are refused with a message naming them, so a typo never passes silently.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from seq2seq.errors import UserError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib


class ConfigError(UserError):
    """A settings file or option the user must fix; the message says what and where."""


@dataclass
class ModelConfig:
    arch: str = "gru"  # model family: "transformer", "gru" or "lstm"
    # (gru: closest distractors, docs/RESULTS.md)
    vocab_size: int = 0  # filled in from the trained tokenizer
    d_model: int = 0  # width of embeddings and layer outputs; 0 = the family's default (FAMILY_WIDTH)
    n_heads: int = 4  # attention heads; d_model must divide evenly by it
    n_encoder_layers: int = 0  # encoder blocks; 0 = the family's default (FAMILY_DEPTH)
    n_decoder_layers: int = 0  # decoder blocks; 0 = the family's default
    d_ff: int = 768  # hidden width of each feed-forward sublayer
    dropout: float = 0.0  # dropout on embeddings, attention weights / between RNN layers, and layer outputs
    max_len: int = 64  # longest source or target (in pieces) the model accepts
    pad_id: int = 0  # set from the tokenizer; padding positions are masked out
    attention: str = "additive"  # GRU/LSTM only: "additive" (Bahdanau), "dot" or "general" (Luong)


# Default widths that give each family about the same number of parameters at 3 + 3 blocks
# (4.65 M transformer, 4.78 M gru, 4.72 M lstm at the default 8,000-piece vocabulary; the GRU's default
# 2 + 2 has 4.02 M).
FAMILY_WIDTH = {"transformer": 192, "gru": 256, "lstm": 232}
# Default encoder and decoder blocks. The GRU's 2 + 2 learnt more in a 10-minute budget than 3 + 3 (a lower
# validation loss and closer near misses, docs/RESULTS.md); the Transformer and the LSTM were not
# measured again.
FAMILY_DEPTH = {"transformer": 3, "gru": 2, "lstm": 3}


def resolve_model(config: ModelConfig, vocab_size: int, pad_id: int) -> ModelConfig:
    """The settings a model is built from: the tokenizer's vocabulary, and the family's width and depth
    where they are unset (0)."""
    if config.arch not in FAMILY_WIDTH:
        raise ConfigError(f"model arch '{config.arch}' is not known; use one of: {', '.join(FAMILY_WIDTH)}")
    depth = FAMILY_DEPTH[config.arch]
    return replace(config, vocab_size=vocab_size, pad_id=pad_id,
                   d_model=config.d_model or FAMILY_WIDTH[config.arch],
                   n_encoder_layers=config.n_encoder_layers or depth,
                   n_decoder_layers=config.n_decoder_layers or depth)


@dataclass
class TokenizerConfig:
    vocab_size: int = 8000  # SentencePiece pieces, shared by English and Japanese
    # (python -m tokenizer shows them)
    model_type: str = "unigram"  # "unigram" or "bpe"
    character_coverage: float = 0.9995  # share of characters kept as pieces; the rest fall back to bytes


@dataclass
class DataConfig:
    src_col: str = "English"  # column holding the source word
    tgt_col: str = "Japanese"  # column holding the target the model learns to produce
    ref_col: str = "Correct_Japanese"  # optional column of known correct answers ("|"-separated)
    targets: str = "auto"  # "correct", "distractors", or "auto": distractors when ref_col exists
    src_template: str = "auto"  # encoder input from columns: "{English} ⟨sep⟩ {Correct_Japanese}";
    # "": src_col alone; "auto": that template when the targets are distractors (measured best,
    # docs/RESULTS.md), else src_col alone
    kinds: str = "semantic"  # where the CSV has a `kind` column: train on rows of these kinds only,
    # comma-separated; "": every row. The split by word comes first, so the held-out words stay the same.
    # "semantic": the bundled corpus's near misses in meaning, which gave closer ones (docs/RESULTS.md)
    held_out_words: str = ""  # CSV whose src_col words are never trained on (e.g. another model's test.csv)
    valid_fraction: float = 0.05  # share of source words held out for validation
    test_fraction: float = 0.05  # share of source words held out for the test split


@dataclass
class TrainConfig:
    epochs: int = 10  # most passes over the training split (early stopping or the time budget may end the
    # run sooner)
    time_budget_minutes: float = 4.0  # > 0: stop after the step that spends this many minutes of training
    # (less one validation, which is run before stopping); 4: about 1.3 epochs of the default on 2 cores,
    # so that with the gloss space's tuning train.py takes about 10 minutes; 0 = no limit
    batch_size: int = 128  # pairs per batch (sentence batching; ignored when max_tokens > 0)
    max_tokens: int = 0  # > 0: token batching, each batch holds up to this many (padded) tokens
    accum: int = 1  # batches whose gradients are summed before one optimizer step (a batch accum× larger)
    lr: float = 3e-3  # peak learning rate, reached at the end of warm-up
    schedule: str = "inverse_sqrt"  # after warm-up: "inverse_sqrt", "cosine", "plateau" or "constant"
    warmup_steps: int = 400  # optimizer steps of linear warm-up from 0 to lr
    plateau_factor: float = 0.5  # "plateau": multiply the learning rate by this when the metric stalls
    plateau_patience: int = 1  # "plateau": validations without improvement before reducing
    weight_decay: float = 0.01  # AdamW decoupled weight decay (not applied to biases, norms, embeddings)
    label_smoothing: float = 0.0  # share of probability spread over the other pieces
    # (0: sampling wants the true shape)
    empty_source_share: float = 0.1  # share of training pairs shown an empty source, so the model also learns
    # which outputs fit any word: ranking subtracts that (decode generic_weight); 0 = off
    translation_pairs: bool = False  # also train on each training word read alone →
    # each of its correct answers
    clip_norm: float = 1.0  # gradient-norm clipping threshold
    metric: str = "valid_acc"  # validation metric that picks the best weights: "valid_acc" or "valid_loss"
    patience: int = 0  # stop after this many validations without improvement (0: run every epoch)
    checkpoint_every: int = 0  # also write the resumable last.pt every this many steps (0: after each epoch)
    keep_epochs: bool = False  # also keep each epoch's weights as epoch{N}.pt, to study quality against
    # training time
    precision: str = "auto"  # "auto" (bf16 on a GPU that has it, fp32 on a CPU), "fp32", "bf16" or "fp16"
    # (CUDA only)
    seed: int = 1  # seeds the split, the initial weights, the batch order and dropout
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    samples_at_end: int = 5  # validation words whose distractors are printed after training
    gloss_epochs: int = 8  # after training, passes over the training pairs that tune the gloss space ranking
    # reads (seq2seq/gloss_tuning.py; about 5½ minutes on the bundled corpus); 0 = rank with the untuned space


@dataclass
class DecodeConfig:
    n: int = 5  # distinct outputs wanted per source word
    method: str = "rank"  # "rank" (samples and lexicon candidates, best first), "sample", "greedy" or "beam"
    temperature: float = 0.6  # divides the logits before sampling; >1 flatter, <1 sharper
    top_k: int = 50  # sample among the k most likely pieces (0 = no limit)
    top_p: float = 0.95  # sample among the smallest set of pieces holding this probability (1 = no limit)
    beam_size: int = 5  # hypotheses kept by beam search
    length_penalty: float = 1.0  # beam: hypotheses compete on log p / (pieces + 1) ** length_penalty;
    # 0 = plain log p
    max_len: int = 24  # most pieces generated per output
    max_attempts: int = 5  # rounds before giving up on finding n distinct outputs (rounds 4 to 20
    # added nothing on 1,000 quiz words; docs/BENCHMARKS.md)
    rank_samples: int = 30  # rank: different samples drawn per word and scored
    rank_lexicon: int = 100  # rank: most lexicon words sharing a kanji with the answer scored per word
    # (0 = none)
    rank_meaning: int = 60  # rank: most lexicon words nearest the word in meaning (the gloss space, tuned
    # when the model folder has gloss_vectors.pt) scored per word (0 = none)
    rank_neighbours: int = 4  # rank: other words the answer translates (borrow → rent) whose samples are
    # scored too
    neighbour_samples: int = 8  # rank: samples drawn for each of those words
    generic_weight: float = 0.5  # rank: λ in log p(d | word) − λ·log p(d | no word);
    # 0 ranks by likelihood alone
    reverse_weight: float = 4.0  # rank: μ, the weight of log p(answer | d), the question asked the other way
    # round (decoding.ReverseQuestion; docs/RESULTS.md); 0 = not asked
    reverse_keys: int = 3  # rank: English words of a candidate the reverse question is asked from;
    # the best counts
    closeness_weight: float = 0.0  # rank: ν, the weight of the cosine between the encoder's readings of the
    # word and of d's own input (decoding.readings); 0 = not compared (with the space tuned on the corpus of
    # 20 near misses a word it lowered the near-miss rate; docs/RESULTS.md)
    gloss_weight: float = 120.0  # rank: ρ, the weight of the cosine between the word and d's glosses in the
    # dictionary's own word vectors (gloss_space.GlossSpace, gloss_tuning); 0 = not asked
    seed: int = 0  # seeds sampling, so a run can be repeated exactly
    output_precision: str = "auto"  # the output layer's precision while generating: "bf16", "fp32", or
    # "auto": bf16 where the processor computes it natively (decoding.choose_output_dtype), else fp32


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


def _section(cls, values: dict, where: str):
    """Build dataclass `cls` from a dict, refusing keys it does not have and values of the wrong type."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    defaults = cls()
    for key, value in values.items():
        expected = type(getattr(defaults, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = float(value)
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: '{key}' must be {expected.__name__}, got {value!r}")
    return cls(**values)


def config_from_dict(raw: dict, where: str = "config") -> Config:
    tables = _tables(raw, where)
    parts = {}
    for f in fields(Config):
        cls = type(getattr(Config(), f.name))
        parts[f.name] = _section(cls, tables[f.name], f"{where} [{f.name}]")
    return Config(**parts)


def _tables(raw: dict, where: str) -> dict[str, dict]:
    """Each section's table of settings (empty where it is left out); unknown sections, and a section that
    is not a table (`model = 3`), are refused."""
    sections = [f.name for f in fields(Config)]
    unknown = sorted(set(raw) - set(sections))
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(unknown)}; known: {', '.join(sections)}")
    tables = {}
    for name in sections:
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{name}] must be a table of settings, got {table!r}")
        tables[name] = dict(table)
    return tables


def read_toml(path: str | Path, what: str = "config file") -> dict:
    """The tables of a TOML file, or a one-line error naming the file."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None


def load_toml(path: str | Path) -> Config:
    return config_from_dict(read_toml(path), str(path))


def with_overrides(config: Config, section: str, **values) -> Config:
    """A copy of `config` with the given settings of one section replaced; None values are ignored."""
    values = {key: value for key, value in values.items() if value is not None}
    return replace(config, **{section: replace(getattr(config, section), **values)})


# config.json's "format": raised when a change to the model folder would make older code misread it.
FOLDER_FORMAT = 1
# What to do about a model folder's config.json that cannot be read.
REPAIR_CONFIG = "config.json is written by train.py: undo any edit to it, or train the model again"


def config_to_json(config: Config) -> str:
    return json.dumps({"format": FOLDER_FORMAT, **asdict(config)}, indent=2, ensure_ascii=False) + "\n"


def read_json(path: str | Path, fix: str) -> dict:
    """The object a JSON file holds, or a one-line error naming the file and saying what to do (`fix`)."""
    path = Path(path)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found; {fix}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err}); {fix}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: must hold a JSON object {{...}}, not {type(values).__name__}; {fix}")
    return values


def load_json(path: str | Path) -> Config:
    """A model folder's config.json. Training writes its source template resolved (never "auto"); a folder
    saved before templates existed has none, and its model read the word alone. Settings added since
    take the value that means what such a folder did (no empty sources, no time budget)."""
    path = Path(path)
    values = read_json(path, REPAIR_CONFIG)
    check_folder_format(values.pop("format", 1), path)  # a folder saved before the number existed is format 1
    try:
        tables = _tables(values, str(path))
        tables["data"].setdefault("src_template", "")
        tables["data"].setdefault("kinds", "")  # older folders trained on rows of every kind
        tables["train"].setdefault("empty_source_share", 0.0)  # older folders never saw an empty source
        tables["train"].setdefault("translation_pairs", False)  # nor a translation pair
        # nor had a time budget: resuming one keeps to its epochs
        tables["train"].setdefault("time_budget_minutes", 0.0)
        return config_from_dict(tables, str(path))
    except ConfigError as err:
        raise ConfigError(f"{err}; {REPAIR_CONFIG}") from None


def check_folder_format(found, path: Path) -> None:
    """A folder of a later format may hold what this code would misread: refuse it rather than guess."""
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise ConfigError(f"{path}: 'format' must be a whole number from 1, got {found!r}; {REPAIR_CONFIG}")
    if found > FOLDER_FORMAT:
        raise ConfigError(f"{path}: written by a newer version of seq2seq-ja (folder format {found}; this "
                          f"version reads format {FOLDER_FORMAT}); update seq2seq-ja to load it")
