"""Generate N distinct near-miss Japanese translations for English words with a trained model.

    python infer.py --model runs/default --word borrow --n 5
    python infer.py --model runs/default --word adopt --word river --top-p 0.9 --temperature 1.2
    python infer.py --model runs/default --input words.csv --output distractors.csv

Known correct answers are never printed: those stored in the model folder, those given with --exclude,
and (when it is there) every form of the bundled JMdict rejection index for the word.
"""
from __future__ import annotations

import argparse
import sys

from seq2seq.cli import run_main
from seq2seq.config import with_overrides
from seq2seq.data import load_words, split_answers, write_distractor_csv
from seq2seq.errors import UserError
from seq2seq.model_folder import load_model
from seq2seq.pipeline import distractors_for, load_known_words, load_lexicon


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model folder written by train.py")
    parser.add_argument("--word", action="append", default=[], help="English word (repeatable)")
    parser.add_argument("--input", help="CSV with a column of English words (see --src-col)")
    parser.add_argument("--src-col", default="English", help="column of --input holding the words (default English)")
    parser.add_argument("--output", help="write a CSV (English, distractor_1..N) instead of printing")
    parser.add_argument("--n", type=int, help="distinct distractors per word (default 5)")
    parser.add_argument("--exclude", action="append", default=[],
                        help="correct answer(s) never to output, '|'-separated (repeatable; applies to every word); "
                             "a model that reads the answer (the default) is shown them when it does not know the word")
    parser.add_argument("--lexicon", default="auto",
                        help="rejection index CSV of correct answers per word; auto: the bundled one; none: off")
    parser.add_argument("--known-words", default="auto",
                        help="only output words in this list (one a line, .gz ok); auto: the bundled JMdict forms; none: any")
    parser.add_argument("--method", choices=["sample", "greedy", "beam"], help="decoding method (default sample)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default 1.0)")
    parser.add_argument("--top-k", type=int, help="sample among the k likeliest pieces; 0 = all (default 50)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling threshold (default 0.95)")
    parser.add_argument("--beam-size", type=int, help="beam width for --method beam (default 5)")
    parser.add_argument("--max-attempts", type=int, help="sampling rounds before giving up (default 20)")
    parser.add_argument("--seed", type=int, help="sampling seed (default 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    words = list(args.word) + (load_words(args.input, args.src_col) if args.input else [])
    if not words:
        raise UserError("give at least one --word or an --input CSV")
    trained = load_model(args.model)
    decode = with_overrides(trained.config, "decode", n=args.n, method=args.method, temperature=args.temperature,
                            top_k=args.top_k, top_p=args.top_p, beam_size=args.beam_size,
                            max_attempts=args.max_attempts, seed=args.seed).decode
    if decode.n < 1:
        raise UserError(f"--n must be at least 1 (got {decode.n})")
    exclude = {answer for cell in args.exclude for answer in split_answers(cell)}
    results = distractors_for(trained, words, decode, [exclude] * len(words), load_lexicon(args.lexicon),
                              load_known_words(args.known_words))
    for word, found in zip(words, results):
        if len(found) < decode.n:
            print(f"note: '{word}': only {len(found)} distinct distractors of {decode.n} found in {decode.max_attempts} "
                  "rounds; try a higher --temperature or --max-attempts, or --known-words none", file=sys.stderr)
    if args.output:
        write_distractor_csv(args.output, words, results, decode.n)
        print(f"wrote {len(words)} words to {args.output}")
    else:
        for word, found in zip(words, results):
            print(f"{word}: {', '.join(found)}" if len(words) > 1 else "\n".join(found))


if __name__ == "__main__":
    sys.exit(run_main(main))
