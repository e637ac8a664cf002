"""Look inside a SentencePiece vocabulary: how texts are cut into pieces, and what the vocabulary holds.

    python -m tokenizer --model runs/default/spm.model borrow 借りる 鬱蒼 "⟨sep⟩"
    python -m tokenizer --data data/distractors.csv.gz --vocab-size 4000 --vocab-size 8000 borrow adopt

With --model it reads a trained model's tokenizer (every model folder has its spm.model). With --data it
first trains one tokenizer per --vocab-size on the CSV's texts, as `train.py` would (each word with its
correct answers, "{English} ⟨sep⟩ {Correct_Japanese}", and each target; here on every row, not only the
training split), so two sizes can be compared: how many of the data's English words each keeps whole.

For each text it prints the pieces, their ids, and the characters the vocabulary does not hold, which
byte fallback spells as their UTF-8 bytes (<0xE9> …). Then it counts the vocabulary's pieces by script.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from seq2seq.cli import ArgumentParser, run_main
from tokenizer.tokenizer import Tokenizer, TokenizerError, train_tokenizer

WORD_START = "▁"  # SentencePiece marks a piece that begins a word with it
SCRIPT_ORDER = ["special", "byte", "word start", "latin", "hiragana", "katakana", "kanji", "mixed Japanese",
                "other"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m tokenizer", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a trained tokenizer, e.g. runs/default/spm.model")
    source.add_argument("--data",
                        help="a CSV of pairs to train tokenizers on first (columns as train.py's defaults)")
    parser.add_argument("--vocab-size", type=int, action="append",
                        help="with --data: vocabulary size to train; repeat to compare sizes (default 8000)")
    parser.add_argument("texts", nargs="*", help="words or phrases to cut into pieces")
    return parser.parse_args(argv)


def script_of(piece: str) -> str:
    """The script class of one vocabulary piece, ignoring its word-start mark."""
    text = piece.removeprefix(WORD_START)
    if not text:
        return "word start"
    if text.isascii() and text.isalpha():
        return "latin"
    kinds = {japanese_script(char) for char in text}
    if None in kinds:
        return "other"
    return kinds.pop() if len(kinds) == 1 else "mixed Japanese"


def japanese_script(char: str) -> str | None:
    code = ord(char)
    if 0x3041 <= code <= 0x309F:
        return "hiragana"
    if 0x30A0 <= code <= 0x30FF:  # includes the long-vowel mark ー
        return "katakana"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or char == "々":
        return "kanji"
    return None


def piece_classes(tokenizer: Tokenizer) -> list[str]:
    """Each vocabulary piece's class, by id: special, byte, or its script (`script_of`)."""
    return ["special" if tokenizer.is_special(i) else "byte" if tokenizer.is_byte(i)
            else script_of(tokenizer.piece(i))
            for i in range(tokenizer.vocab_size)]


def bytes_spelled(tokenizer: Tokenizer, ids: list[int]) -> list[str]:
    """The characters that `ids` spell as UTF-8 bytes (the vocabulary lacks them), each with its bytes."""
    spelled, run = [], []
    for piece_id in ids + [-1]:  # -1 ends the last run of byte pieces
        if piece_id >= 0 and tokenizer.is_byte(piece_id):
            run.append(int(tokenizer.piece(piece_id)[1:-1], 16))  # '<0xE9>' → 233
        elif run:
            for char in bytes(run).decode("utf-8", errors="replace"):
                spelled.append(f"{char} = {' '.join(f'<0x{b:02X}>' for b in char.encode('utf-8'))}")
            run = []
    return list(dict.fromkeys(spelled))


def describe_text(tokenizer: Tokenizer, text: str) -> list[str]:
    ids = tokenizer.encode(text)
    lines = [f"{text}: {len(ids)} piece{'s' if len(ids) != 1 else ''}",
             f"  pieces: {' '.join(tokenizer.piece(i) for i in ids)}",
             f"  ids:    {' '.join(str(i) for i in ids)}"]
    spelled = bytes_spelled(tokenizer, ids)
    if spelled:
        lines.append(f"  not in the vocabulary, spelled as UTF-8 bytes: {'; '.join(spelled)}")
    return lines


def describe_vocabulary(tokenizer: Tokenizer) -> list[str]:
    classes = piece_classes(tokenizer)
    counts = Counter(classes)
    lines = [f"vocabulary: {tokenizer.vocab_size} pieces"]
    for script in SCRIPT_ORDER:
        examples = [] if script in ("special", "byte") else \
            [tokenizer.piece(i) for i, kind in enumerate(classes) if kind == script][:6]
        example_text = f"  e.g. {' '.join(examples)}" if examples else ""
        lines.append(f"  {script:15} {counts[script]:6}{example_text}")
    return lines


def whole_word_share(tokenizer: Tokenizer, words: list[str]) -> float:
    """The share of `words` that are a single piece (▁word)."""
    return sum(len(tokenizer.encode(word)) == 1 for word in words) / max(1, len(words))


def corpus_texts(path: str) -> tuple[list[str], list[str]]:
    """What `train.py` trains its tokenizer on, from every row of the CSV, and the CSV's English words."""
    from seq2seq.data import answer_template, correct_answers_by_word, load_pairs, source_text, word_key

    pairs = load_pairs(path)
    answers = correct_answers_by_word(pairs, targets_are_correct=False)
    template = answer_template("English", "Correct_Japanese") if answers else ""
    sources = [source_text(template, word, answers.get(word_key(word), ()), "English", "Correct_Japanese")
               for word in pairs["source"]]
    return sources + list(pairs["target"]), sorted(set(pairs["source"]))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.model:
        if args.vocab_size:
            raise TokenizerError("--vocab-size is for --data (training tokenizers here); a "
                                 "--model has its own size")
        report(Tokenizer.load(args.model), args.texts, f"tokenizer {args.model}", words=None)
        return
    texts, words = corpus_texts(args.data)
    for size in args.vocab_size or [8000]:
        print(f"training a {size}-piece tokenizer on {len(texts):,} texts of {args.data} …", file=sys.stderr)
        report(train_tokenizer(texts, size), args.texts,
               f"tokenizer of {Path(args.data).name}, vocab_size {size}", words)


def report(tokenizer: Tokenizer, texts: list[str], title: str, words: list[str] | None) -> None:
    print(f"== {title}")
    for text in texts:
        print("\n".join(describe_text(tokenizer, text)))
    print("\n".join(describe_vocabulary(tokenizer)))
    if words is not None:
        print(f"  the data's {len(words):,} English words kept whole (one piece): "
              f"{whole_word_share(tokenizer, words):.1%}")
    print()


if __name__ == "__main__":
    sys.exit(run_main(main))
