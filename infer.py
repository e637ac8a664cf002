"""Generate N distinct near-miss Japanese translations for English words with a trained model.

    python infer.py --model runs/default --word borrow --n 5
    python infer.py --model runs/default --word adopt --word river --top-p 0.9 --temperature 1.2
    python infer.py --model runs/default --input quiz.csv --output quiz-out.csv   # keeps quiz.csv's columns
    cat words.txt | python infer.py --model runs/default --input - --format jsonl
    python infer.py --model runs/default --word borrow --explain   # how ranking chose: every candidate's \
scores
    python infer.py --model runs/default --word borrow --method sample --n 2 --explain   # each sample, step \
by step
    python infer.py --model runs/default --word borrow --method beam --length-penalty 0 --explain

Known correct answers are never printed: a row's own (--ref-col of --input), those stored in the model
folder, those given with --exclude, and (when it is there) every form of the bundled JMdict rejection
index for the word. Outputs come best first; csv and jsonl give each one's score (higher is better).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from seq2seq.api import DistractorModel, with_lists
from seq2seq.attention_maps import plot_word_attention
from seq2seq.cli import ArgumentParser, run_main
from seq2seq.config import with_overrides
from seq2seq.data import split_answers
from seq2seq.decoding import OUTPUT_PRECISIONS, check_decode_settings
from seq2seq.errors import UserError
from seq2seq.model_folder import load_model as load_trained
from seq2seq.pipeline import answers_shown
from seq2seq.quiz import (FORMATS, QuizInput, check_file_can_be_written, formatted, from_words, load_quiz,
                          write_output)
from seq2seq.trace import WordTrace, padded, trace_lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model folder written by train.py")
    parser.add_argument("--word", action="append", default=[], help="English word (repeatable)")
    parser.add_argument("--input", help="CSV with a column of English words (see --src-col) and, optionally, "
                                        "their correct answers (--ref-col); or a .txt file, or - for "
                                        "standard input, with one word a line")
    parser.add_argument("--src-col", default="English",
                        help="column of --input holding the words (default English)")
    parser.add_argument("--ref-col", default="Correct_Japanese",
                        help="column of --input holding each word's correct answers, '|'-separated: never "
                             "output, and shown to a model that reads the answer (default "
                             "Correct_Japanese; used when present)")
    parser.add_argument("--output", help="write to this file (atomically) instead of printing")
    parser.add_argument("--format", choices=FORMATS,
                        help="text: the distractors; csv: the input's columns, distractor_1..N, score_1..N; "
                             "jsonl: one JSON object a word (default: csv with --output, else text)")
    parser.add_argument("--n", type=int, help="distinct distractors per word (default 5)")
    parser.add_argument("--exclude", action="append", default=[],
                        help="correct answer(s) never to output, '|'-separated (repeatable; applies to "
                             "every word); a model that reads the answer (the default) is shown them "
                             "when it does not know the word")
    parser.add_argument("--lexicon", default="auto",
                        help="rejection index CSV of correct answers per word; auto: the bundled one; "
                             "none: off")
    parser.add_argument("--known-words", default="auto",
                        help="only output words in this list (one a line, .gz ok); auto: the "
                             "bundled JMdict forms; none: any")
    parser.add_argument("--candidates", default="auto",
                        help="lexicon whose words sharing a kanji with the answer are ranked beside "
                             "the model's samples (--method rank); auto: the bundled "
                             "data/lexicon.csv.gz; none: the samples alone")
    parser.add_argument("--method", choices=["rank", "sample", "greedy", "beam"],
                        help="rank: samples and lexicon candidates, scored by the model, best first; "
                             "sample: the first distinct samples; greedy; beam (default: the "
                             "model's, rank for new models)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default 0.6)")
    parser.add_argument("--top-k", type=int, help="sample among the k likeliest pieces; 0 = all (default 50)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling threshold (default 0.95)")
    parser.add_argument("--beam-size", type=int, help="beam width for --method beam, raised where needed "
                                                      "to n plus the word's known answers, which are "
                                                      "dropped (default 5)")
    parser.add_argument("--length-penalty", type=float,
                        help="beam: hypotheses compete on log p / (pieces + 1)^this; 0 = plain log p, which "
                             "favours the shortest (default 1.0)")
    parser.add_argument("--max-attempts", type=int,
                        help="rounds before giving up on --n distinct outputs (default 5)")
    parser.add_argument("--rank-samples", type=int,
                        help="rank: samples drawn and scored per word (default 30)")
    parser.add_argument("--rank-lexicon", type=int,
                        help="rank: most lexicon words sharing a kanji with the answer "
                             "scored per word (default 100)")
    parser.add_argument("--rank-meaning", type=int,
                        help="rank: most lexicon words nearest the word in meaning (in word vectors learnt "
                             "from the dictionary's glosses, tuned on the model's training pairs) scored "
                             "per word (default 60; 0: none)")
    parser.add_argument("--generic-weight", type=float,
                        help="rank: λ in log p(d | word) − λ·log p(d | no word), which pushes down "
                             "outputs that fit any word (default 0.5; 1: pointwise mutual information)")
    parser.add_argument("--reverse-weight", type=float,
                        help="rank: μ, the weight of log p(answer | d): would the model, shown d as the "
                             "answer, propose this word's answer as its near miss? (default 4; 0: not asked)")
    parser.add_argument("--reverse-keys", type=int,
                        help="rank: English words of a candidate (lend, loan for 貸す) the reverse "
                             "question is asked from; the best answer counts (default 3)")
    parser.add_argument("--closeness-weight", type=float,
                        help="rank: ν, the weight of the cosine between the encoder's readings of the word "
                             "and of d's own English word (its states averaged): does the model read them "
                             "alike? (default 0: not compared)")
    parser.add_argument("--gloss-weight", type=float,
                        help="rank: ρ, the weight of the cosine between the word and d's nearest English "
                             "gloss, in word vectors learnt from the dictionary's glosses and tuned on the "
                             "model's training pairs (lend is near borrow): does d mean nearly what the "
                             "word means? (default 120; 0: not asked)")
    parser.add_argument("--seed", type=int, help="sampling seed (default 0)")
    parser.add_argument("--output-precision", choices=["auto", *OUTPUT_PRECISIONS],
                        help="the precision of the output layer while generating, the largest matrix product "
                             "of a step (steps of 64 hypotheses or more; fewer stay fp32); auto: bf16 where "
                             "the CPU (AVX512-BF16, AMX) or GPU computes it "
                             "natively, else fp32. Scores move by about 0.004; teacher-forced scoring "
                             "(ranking) stays fp32 (default auto)")
    parser.add_argument("--plot-attention", metavar="OUT.png",
                        help="draw where the decoder looked in the source while writing the first word's "
                             "best distractor: a PNG of its cross-attention (every layer and head of a "
                             "Transformer); needs matplotlib")
    parser.add_argument("--explain", action="store_true",
                        help="after each word's answers, show how they were chosen. rank: every candidate it "
                             "considered, best first, where it came from, its five scores and what became of "
                             "it (kept, rank, correct answer, …); sample and greedy: every output step by "
                             "step, the likeliest pieces with their probabilities (raw, tempered, after "
                             "top-k/top-p), the piece drawn and the running log p; beam: the live and ended "
                             "hypotheses at every step")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.word and args.input:
        raise UserError("give the words with --word or with --input, not both")
    if not args.word and not args.input:
        raise UserError("give at least one --word or an --input file")
    quiz = (load_quiz(args.input, args.src_col, args.ref_col) if args.input
            else from_words(args.word, args.src_col))
    if args.output:
        check_file_can_be_written(args.output, "--output")
    if args.plot_attention:
        check_file_can_be_written(args.plot_attention, "--plot-attention")
    trained = load_trained(args.model)
    decode = with_overrides(trained.config, "decode", n=args.n, method=args.method,
                            temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                            beam_size=args.beam_size, length_penalty=args.length_penalty,
                            max_attempts=args.max_attempts, seed=args.seed, rank_samples=args.rank_samples,
                            rank_lexicon=args.rank_lexicon, rank_meaning=args.rank_meaning,
                            generic_weight=args.generic_weight,
                            reverse_weight=args.reverse_weight, reverse_keys=args.reverse_keys,
                            closeness_weight=args.closeness_weight, gloss_weight=args.gloss_weight,
                            output_precision=args.output_precision).decode
    check_decode_settings(decode)
    model = with_lists(trained, args.lexicon, args.known_words,
                       args.candidates if decode.method == "rank" else "none")  # only ranking reads it
    exclude = {answer for cell in args.exclude for answer in split_answers(cell)}
    check_answers_known(model, quiz, exclude)
    explained = [] if args.explain else None
    results = model.distractors_many(quiz.words, correct=quiz.correct, exclude=exclude, explain=explained,
                                     **asdict(decode))
    for word, found in zip(quiz.words, results):
        if len(found) < decode.n:
            print(f"note: '{word}': only {len(found)} distinct distractors of {decode.n} "
                  f"found; {more_candidates(decode)}",
                  file=sys.stderr)
    form = args.format or ("csv" if args.output else "text")
    text = formatted(quiz, results, decode.n, form)
    if args.output:
        write_output(args.output, text)
        print(f"wrote {len(quiz.words)} words to {args.output}")
    else:
        sys.stdout.write(text)
    if args.plot_attention:
        print(plot_word_attention(model, quiz.words[0], quiz.correct[0], exclude, results[0],
                                  args.plot_attention),
              file=sys.stderr)
    for word, candidates in zip(quiz.words, explained or []):
        print("\n".join(explanation(word, candidates, decode)))


def check_answers_known(model: DistractorModel, quiz: QuizInput, exclude: set[str]) -> None:
    """A model that reads the correct answer beside the word needs one for every word: say which row
    lacks it."""
    if not model.trained.config.data.src_template:
        return
    for i, (word, own) in enumerate(zip(quiz.words, quiz.correct)):
        if not own and not answers_shown(model.trained, word, exclude, model.lexicon):
            fix = "fill its correct answer in that column" if quiz.name else "give it with --exclude"
            raise UserError(f"{quiz.row(i)}: no correct answer is known for '{word}', and this model "
                            f"reads it beside the word; {fix}")


def explanation(word: str, explained: WordTrace | list, decode) -> list[str]:
    """How `word`'s answers were chosen: its decoding trace, or the candidates ranking weighed, best first."""
    if isinstance(explained, WordTrace):
        return trace_lines(word, explained)
    return ranking_table(word, explained, decode)


def ranking_table(word: str, candidates: list, decode) -> list[str]:
    """The candidates ranking weighed for `word`, best first, as a table a student can read."""
    lines = [f"\n{word}: {len(candidates)} candidates, best first; score = log p(d | word) − "
             f"{decode.generic_weight:g}·log p(d | no word) + {decode.reverse_weight:g}·log p(answer | d's "
             f"input) + {decode.closeness_weight:g}·cos(readings) + {decode.gloss_weight:g}·cos(glosses)",
             f"  {'#':>3}  {padded('candidate', 12)}  {padded('from', 23)}  "
             f"{'p(d|word)':>9}  {'p(d|none)':>9}  {'p(ans|d)':>8}  {'cos':>5}  {'gloss':>5}  "
             f"{'score':>7}  what became of it   (p: log-probabilities)"]
    number = lambda value, width: f"{value:{width}.2f}" if value is not None else " " * width
    for place, c in enumerate(candidates, 1):
        lines.append(f"  {place:>3}  {padded(c.text, 12)}  {padded(c.origin, 23)}  {number(c.forward, 9)}  "
                     f"{number(c.generic, 9)}  {number(c.reverse, 8)}  {number(c.closeness, 5)}  "
                     f"{number(c.gloss, 5)}  {number(c.score, 7)}  {c.verdict}")
    return lines


def more_candidates(decode) -> str:
    """What to change when a word gets fewer than --n answers."""
    if decode.method == "rank":
        return f"{decode.rank_samples} samples were ranked; try a higher --rank-samples or --temperature"
    if decode.method == "sample":
        return ("every output the sampling settings allow was drawn, or --max-attempts ran out; try a higher "
                "--max-attempts, --temperature, --top-k or --top-p, or --known-words none")
    if decode.method == "beam":
        return "try a larger --beam-size, --method sample, or --known-words none"
    return "greedy search gives one output a word; use --method sample or rank for more"


if __name__ == "__main__":
    sys.exit(run_main(main))
