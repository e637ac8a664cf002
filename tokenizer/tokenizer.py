"""Training and using a SentencePiece model; nothing here knows about torch or models.

Why SentencePiece: Japanese has no spaces, and a word-level vocabulary would make every unseen word
`<unk>`. SentencePiece learns pieces (whole frequent words, common endings like する, single characters)
from the corpus itself. With `byte_fallback`, a kanji it never saw is spelled as UTF-8 bytes instead of
`<unk>`, so decoding still gives it back.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Iterable

import sentencepiece as spm

from seq2seq.errors import UserError

# Fixed special ids, the same for every corpus, so a model never has to ask its tokenizer for them.
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
BYTE_PIECES = 256  # byte_fallback reserves one piece per byte value
SEPARATOR = "⟨sep⟩"  # what source templates put between the English word and its answers
SEPARATOR_PIECES = [f"▁{SEPARATOR}▁", SEPARATOR]  # always whole pieces: with its spaces, or alone
MIN_VOCAB_SIZE = BYTE_PIECES + 4 + len(SEPARATOR_PIECES) + 40  # bytes, specials, separators, some real pieces


class TokenizerError(UserError):
    """The tokenizer cannot be trained or loaded; the message says what to change."""


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, model_type: str = "unigram", character_coverage: float = 0.9995
) -> "Tokenizer":
    """Learn a vocabulary of at most `vocab_size` pieces from `texts` (one word or phrase each).

    Deterministic: the same texts in the same order and the same settings give the same model.
    The size is an upper bound (`hard_vocab_limit=False`), so a small corpus gets a smaller vocabulary
    rather than an error.
    """
    if model_type not in ("unigram", "bpe"):
        raise TokenizerError(f"tokenizer model_type '{model_type}' is not supported; use 'unigram' or 'bpe'")
    if vocab_size < MIN_VOCAB_SIZE:
        raise TokenizerError(f"tokenizer vocab_size {vocab_size} is too small; use at least {MIN_VOCAB_SIZE}")
    proto = io.BytesIO()
    try:
        _run_trainer(list(texts), proto, vocab_size, model_type, character_coverage)
    except RuntimeError as err:
        needed = re.search(r"smaller than required_chars\. \d+ vs (\d+)", str(err))
        if not needed:
            raise
        raise TokenizerError(f"tokenizer vocab_size {vocab_size} cannot hold this corpus's characters; use "
                             f"at least {int(needed.group(1)) + 40}, or a lower character_coverage") from None
    return Tokenizer(proto.getvalue())


def _run_trainer(texts: list[str], proto: io.BytesIO, vocab_size: int, model_type: str,
                 character_coverage: float):
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=proto,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        model_type=model_type,
        character_coverage=character_coverage,
        byte_fallback=True,
        normalization_rule_name="identity",  # the data layer has already NFKC-normalised every cell
        add_dummy_prefix=False,  # no ▁ before each text: a target 貸す is [貸, す], not [▁, 貸, す]
        user_defined_symbols=SEPARATOR_PIECES,
        required_chars="▁",  # the space stays a piece even in a corpus of single words
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
        num_threads=1,  # one thread: piece scores do not depend on thread scheduling
        minloglevel=2,
    )


class Tokenizer:
    """Text ↔ piece ids. Holds the serialised SentencePiece model, so saving is writing bytes."""

    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __init__(self, model_proto: bytes):
        self.model_proto = model_proto
        self._sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """'借りる' → e.g. [5, 812] (no BOS/EOS: the batching code adds them where the model needs them)."""
        return self._sp.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        """Piece ids → text; special ids (pad, bos, eos) are dropped."""
        return self._sp.decode([int(i) for i in ids if int(i) not in (PAD_ID, BOS_ID, EOS_ID)])

    def pieces(self, text: str) -> list[str]:
        """'borrowed' → ['▁borrow', 'ed']: what the model really sees, for teaching and debugging."""
        return self._sp.encode(text, out_type=str)

    def piece(self, piece_id: int) -> str:
        """An id's piece as the vocabulary writes it: '▁borrow', 'る', '<0xE9>', '</s>'."""
        return self._sp.id_to_piece(int(piece_id))

    def is_special(self, piece_id: int) -> bool:
        """pad, unk, bos or eos."""
        return int(piece_id) in (PAD_ID, UNK_ID, BOS_ID, EOS_ID)

    def is_byte(self, piece_id: int) -> bool:
        """One of the 256 byte pieces that spell, in UTF-8, a character the vocabulary lacks."""
        return self._sp.is_byte(int(piece_id))

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.model_proto)

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        path = Path(path)
        if not path.is_file():
            raise TokenizerError(f"{path}: tokenizer model not found")
        try:
            tokenizer = cls(path.read_bytes())
        except RuntimeError:  # SentencePiece could not parse it
            tokenizer = None
        if tokenizer is None or tokenizer.vocab_size == 0:  # an empty file parses as a model of no pieces
            raise TokenizerError(f"{path}: damaged, or not a SentencePiece model; put back the "
                                 "one trained with the model")
        return tokenizer
