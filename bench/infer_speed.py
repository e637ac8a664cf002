"""How fast does a trained model answer? Words per second, batched against one word at a time, and memory.

    python bench/infer_speed.py --model runs/default                   # 200 test words, n 10, sample and rank
    python bench/infer_speed.py --model runs/default --words 1000 --methods sample
    python bench/infer_speed.py --model runs/default --words 1000 --methods sample --precisions fp32,auto
    # where the time goes
    python bench/infer_speed.py --model runs/default --words 50 --methods rank --profile

The words are the model folder's own test split (test.csv), as infer.py would get them in a quiz file.
Loading is timed apart (the model, then the bundled JMdict lists), then each method answers all the words
in one batched call (`distractors_many`, what `infer.py --input` does) and the first `--single` of them one
call a word. Peak memory is the process's maximum resident set, JMdict lists included. `--precisions`
repeats each method with the output layer in each precision (`infer.py --output-precision`). Run it alone:
on a 2-core machine a second busy process slows every number.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seq2seq.api import DistractorModel  # noqa: E402
from seq2seq.compare import read_test_split, targets_by_word  # noqa: E402
from seq2seq.model_folder import load_model as load_trained  # noqa: E402
from seq2seq.pipeline import load_candidate_lexicon, load_known_words, load_lexicon  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/default", help="model folder (default runs/default)")
    parser.add_argument("--words", type=int, default=200,
                        help="test words answered in one batch (default 200)")
    parser.add_argument("--single", type=int, default=20,
                        help="of them, answered one call a word (default 20; 0: not measured)")
    parser.add_argument("--n", type=int, default=10, help="distractors per word (default 10)")
    parser.add_argument("--methods", default="sample,rank",
                        help="comma-separated decoding methods (default sample,rank)")
    parser.add_argument("--precisions", default="auto",
                        help="comma-separated output-layer precisions, each run in turn: auto, fp32, bf16 "
                             "(default auto)")
    parser.add_argument("--profile", action="store_true",
                        help="print the 15 costliest functions of each batched run")
    return parser.parse_args(argv)


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def peak_memory_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB


def one_at_a_time_rate(model: DistractorModel, words: list[str], n: int, settings: dict) -> float | None:
    """Words per second, one call a word; None for no words (--single 0)."""
    if not words:
        return None
    _, seconds = timed(lambda: [model.distractors(word, n=n, **settings) for word in words])
    return round(len(words) / seconds, 1)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trained, model_s = timed(lambda: load_trained(args.model))
    lists, lists_s = timed(lambda: (glossary := load_lexicon("auto"), load_known_words("auto"),
                                    load_candidate_lexicon("auto", glossary)))
    model = DistractorModel(trained, *lists)
    words = list(targets_by_word(read_test_split(Path(args.model))))[: args.words]
    print(f"{args.model}: loading {model_s:.1f} s (model) + {lists_s:.1f} s (JMdict lists); "
          f"{len(words)} test words, n {args.n}; peak memory so far {peak_memory_gb():.2f} GB")
    print("| method | output layer | batched: s | words/s | one at a time: words/s | batched / one at a time "
          "| short words |")
    print("|---|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        for precision in args.precisions.split(","):
            settings = dict(method=method, output_precision=precision)
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            found, batched_s = timed(lambda: model.distractors_many(words, n=args.n, **settings))
            if profiler:
                profiler.disable()
            batched_rate = len(words) / batched_s
            single_rate = one_at_a_time_rate(model, words[: args.single], args.n, settings)
            ratio = f"{batched_rate / single_rate:.1f}" if single_rate else "n/a"
            short = sum(len(answers) < args.n for answers in found)
            print(f"| {method} | {precision} | {batched_s:.1f} | {batched_rate:.1f} | {single_rate or 'n/a'} "
                  f"| {ratio} | {short} |")
            if profiler:
                pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(15)
    print(f"peak memory {peak_memory_gb():.2f} GB")


if __name__ == "__main__":
    main()
