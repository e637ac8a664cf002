"""python -m seq2seq.walkthrough: one word followed through a tiny trained model of each family.

What it prints must be the model's own computation: the shapes printed are the tensors' shapes, the
memory is model.encode's, and the pieces drawn are decoding.generate's for the same seed.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seq2seq.cli import run_main
from seq2seq.config import DecodeConfig, with_overrides
from seq2seq.decoding import encode_sources, generate, sampling_pick, source_ids
from seq2seq.model_folder import TrainedModel, load_model
from seq2seq.pipeline import encoder_inputs, train_from_csv
from seq2seq.run_log import RunLog
from seq2seq.walkthrough import main, named_tensors, printed, walk
from tests.conftest import PAIRS, ROOT, tiny_config, write_csv

ARCHS = ["transformer", "gru", "lstm"]
WITHOUT_LEXICON = ["--lexicon", "none"]  # the tiny models' own answers.json; no bundled JMdict to load
PRINTED_TENSOR = re.compile(r"^(\S.*?)\s+\(([\d, ]*)\)\s+(?:=|\[)")  # "name   (1, 7, 32)   [0, 0, :4] = …"


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A tiny model folder per family, trained for the 3 epochs of configs/tiny.toml (a second each)."""
    base = tmp_path_factory.mktemp("walkthrough")
    data = write_csv(base / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)
    for arch in ARCHS:
        config = with_overrides(tiny_config(), "model", arch=arch)
        train_from_csv(config, data, base / arch, progress=False, log=RunLog(echo=False))
    return {arch: base / arch for arch in ARCHS}


@pytest.fixture(params=ARCHS)
def trained(request, folders) -> TrainedModel:
    return load_model(folders[request.param])


def borrow_source(trained: TrainedModel) -> str:
    """What the encoder reads for borrow, found as inference finds it: 'borrow ⟨sep⟩ 借りる'."""
    return encoder_inputs(trained, ["borrow"], [trained.answers["borrow"]])[0]


def tensor_stages(walkthrough) -> dict[str, list[torch.Tensor]]:
    """stage name → the tensors recorded under it, in order."""
    found: dict[str, list[torch.Tensor]] = {}
    for stage in walkthrough.stages:
        if stage.tensor is not None:
            found.setdefault(stage.name, []).append(stage.tensor)
    return found


def test_the_printed_shapes_are_the_tensors_shapes(trained):
    walkthrough = walk(trained, "borrow", DecodeConfig())
    printed_shapes = [(match[1], tuple(int(size) for size in match[2].split(",") if size.strip()))
                      for match in map(PRINTED_TENSOR.match, printed(walkthrough).splitlines()) if match]
    recorded = [(stage.name, tuple(stage.tensor.shape)) for stage in walkthrough.stages
                if stage.tensor is not None]
    assert printed_shapes == recorded
    config, stages = trained.config.model, tensor_stages(walkthrough)
    src_len = len(trained.tokenizer.encode(borrow_source(trained))) + 1  # the pieces and EOS
    assert [tuple(t.shape) for t in stages["decoding.source_ids"]] == [(1, src_len)]
    assert tuple(stages["model.encode → memory.states"][0].shape) == (1, src_len, config.d_model)
    assert all(tuple(t.shape) == (1, config.vocab_size) for t in stages["model.decode_step"])


def test_the_final_encoder_states_are_model_encode(trained):
    walkthrough = walk(trained, "borrow", DecodeConfig())
    src = source_ids(trained.model, trained.tokenizer, [borrow_source(trained)])  # (1, src_len)
    with torch.no_grad():
        memory = trained.model.encode(src, src != trained.tokenizer.pad_id)
    expected, walked = (dict(named_tensors(memory, "memory")),
                        dict(named_tensors(walkthrough.memory, "memory")))
    # and a recurrent one's final
    assert walked.keys() == expected.keys() >= {"memory.states", "memory.src_mask"}
    stages = tensor_stages(walkthrough)
    for name, tensor in expected.items():
        assert torch.equal(walked[name], tensor), name
        assert torch.equal(stages[f"model.encode → {name}"][0], tensor), name


@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, 50, 0.95), (1.5, 0, 1.0), (0.8, 3, 0.7)])
def test_the_pieces_drawn_are_those_generate_draws_with_the_same_seed(trained, temperature, top_k, top_p):
    encoded = encode_sources(trained.model, trained.tokenizer, [borrow_source(trained)])
    draws = []
    for seed in range(6):
        decode = DecodeConfig(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        pick = sampling_pick(temperature, top_k, top_p, torch.Generator().manual_seed(seed))
        expected = generate(trained.model, encoded, trained.tokenizer, decode.max_len, pick)[0]
        walkthrough = walk(trained, "borrow", decode)
        assert walkthrough.drawn == expected, seed
        assert walkthrough.text == (None if expected is None else trained.tokenizer.decode(expected))
        draws.append(expected)
    assert any(draws), "no seed drew a piece before EOS: the comparison would prove little"


def test_the_transformer_cache_grows_one_step_a_layer(folders):
    trained = load_model(folders["transformer"])
    walkthrough = walk(trained, "borrow", DecodeConfig(temperature=1.5, seed=1))
    stages = tensor_stages(walkthrough)
    steps = len(stages["model.decode_step"])
    for layer in range(trained.config.model.n_decoder_layers):
        keys = stages[f"state.layers[{layer}].self_kv.key"]
        assert [key.size(2) for key in keys] == list(range(1, steps + 1))
        assert len(stages[f"state.layers[{layer}].memory_kv.key"]) == 1  # projected once, at the first step


def test_the_command_prints_every_part_and_markdown_explains_them(folders, capsys):
    for arch in ("transformer", "gru"):
        assert run_main(main, ["--model", str(folders[arch]), "--word", "Borrow ", *WITHOUT_LEXICON]) == 0
        text = capsys.readouterr().out
        for heading in ("1. The word", "2. The pieces", "3. The batch", "4. The encoder",
                        "5. The decoder, step 1", "6. The result"):
            assert f"── {heading}" in text
        assert "    'Borrow'\n" in text  # stripped; the answers are looked up by the casefolded word
        assert "'Borrow ⟨sep⟩ 借りる'" in text and "'</s>'" in text
    argv = ["--model", str(folders["gru"]), "--word", "borrow", "--seed", "2", *WITHOUT_LEXICON]
    assert run_main(main, [*argv, "--markdown"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"## `borrow` through `{folders['gru']}` (gru, 1 + 1 layers")
    assert "### 4. The encoder: model.encode" in text
    assert f"`python -m seq2seq.walkthrough {' '.join(argv)}`" in text and "```text\nmodel.embed " in text


def one_line_error(capsys, *argv: str) -> str:
    """The walkthrough run as on the command line, which must stop with exit code 2 and one line on stderr."""
    code = run_main(main, list(argv))
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def test_bad_input_is_one_line(folders, tmp_path, capsys):
    assert "no config.json" in one_line_error(capsys, "--model", str(tmp_path), "--word", "borrow")
    unknown = one_line_error(capsys, "--model", str(folders["gru"]), "--word", "zebra", *WITHOUT_LEXICON)
    assert "'zebra'" in unknown and "--exclude" in unknown
    assert "--top-p" in one_line_error(capsys, "--model", str(folders["gru"]), "--word", "borrow",
                                       "--top-p", "0", *WITHOUT_LEXICON)


def test_a_word_with_no_known_answer_is_read_with_the_one_given(folders, capsys):
    assert run_main(main, ["--model", str(folders["gru"]), "--word", "zebra", "--exclude", "縞馬",
                           *WITHOUT_LEXICON]) == 0
    assert "'zebra ⟨sep⟩ 縞馬'" in capsys.readouterr().out


def test_the_module_runs_from_the_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "seq2seq.walkthrough", "--model", str(tmp_path),
                             "--word", "borrow"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
