"""Attention maps (seq2seq/attention_maps.py, infer.py --plot-attention): the model's own cross-attention
weights, step by step, for both families, and the figure drawn from them.

That the weights come from the plain-math path of attention, and that it computes what the fused kernel
computes, is tests/test_attention.py's test_explicit_and_fused_paths_agree (and, for a whole module,
test_weights_are_stored_only_when_asked); the recurrent attention's weights against its equations are
tests/test_rnn.py's.
"""
import sys

import pytest
import torch

import infer
import seq2seq.plotting
from seq2seq.attention_maps import (attention_map, cross_attention, cross_attention_modules,
                                    draw_attention_map, word_source)
from seq2seq.cli import run_main
from seq2seq.config import ModelConfig, with_overrides
from seq2seq.model_folder import load_model
from seq2seq.models import build_model
from seq2seq.pipeline import train_from_csv
from seq2seq.plotting import has_japanese
from seq2seq.run_log import RunLog
from tests.conftest import PAIRS, tiny_config, write_csv
from tests.helpers import PAD, batch_of_sources, targets

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST_LISTS = ["--lexicon", "none", "--known-words", "none", "--candidates", "none"]  # no bundled JMdict lists
ONE_SAMPLE = ["--n", "1", "--method", "sample", "--max-attempts", "50", *FAST_LISTS]
# A Transformer of 2 decoder layers × 2 heads, and a GRU: its one attention is one "layer" of one "head".
FAMILIES = {"transformer": ((2, 2), dict(n_decoder_layers=2)), "gru": ((1, 1), dict(arch="gru"))}


def tiny_model(family: str):
    """Untrained, in eval mode: these tests are about where the weights come from, not what they say."""
    torch.manual_seed(0)
    _, settings = FAMILIES[family]
    config = ModelConfig(**{"arch": "transformer", "vocab_size": 23, "d_model": 16, "n_heads": 2,
                            "n_encoder_layers": 1, "n_decoder_layers": 1, "d_ff": 32, "max_len": 12,
                            "pad_id": PAD, **settings})
    return build_model(config).eval()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny folder of each family, trained three epochs (one left some samples without an end), reading
    'borrow ⟨sep⟩ 借りる' (the word beside its answer)."""
    base = tmp_path_factory.mktemp("attention_maps")
    data = write_csv(base / "pairs.csv", ["English", "Japanese", "Correct_Japanese"], PAIRS)
    for family, (_, settings) in FAMILIES.items():
        config = with_overrides(tiny_config(epochs=3), "model", **settings)
        train_from_csv(config, data, base / family, progress=False, log=RunLog(echo=False))
    return base


# --- the weights --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_every_row_sums_to_one_and_padding_gets_exactly_zero(family):
    weights = cross_attention(tiny_model(family), batch_of_sources(), targets())  # second source: 3 real of 5
    layers_heads, _ = FAMILIES[family]
    assert weights.shape == (2, *layers_heads, 6, 5)  # (batch, layers, heads, tgt_len, src_len)
    assert torch.allclose(weights.sum(-1), torch.ones(2, *layers_heads, 6))
    assert torch.all(weights[1, ..., 3:] == 0)  # exactly zero, not merely small
    assert torch.all(weights[..., :3] > 0)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_first_step_is_what_a_direct_decode_step_stores(family):
    model, src, tgt = tiny_model(family), batch_of_sources(), targets()
    modules = cross_attention_modules(model)
    with torch.no_grad():
        for module in modules:
            module.store_weights = True
        model.decode_step(tgt[:, 0], model.encode(src, src != PAD))
        direct = torch.stack([module.last_weights.reshape(2, -1, 5) for module in modules], dim=1)
        for module in modules:
            module.store_weights = False
    # (batch, layers, heads, src_len)
    assert torch.equal(cross_attention(model, src, tgt)[:, :, :, 0], direct)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_switches_are_off_again_afterwards_even_after_a_failure(family, monkeypatch):
    model = tiny_model(family)
    cross_attention(model, batch_of_sources(), targets())
    assert not any(module.store_weights for module in cross_attention_modules(model))

    def broken_step(*args):
        raise RuntimeError("a step that fails")

    monkeypatch.setattr(model, "decode_step", broken_step)
    with pytest.raises(RuntimeError):
        cross_attention(model, batch_of_sources(), targets())
    assert not any(module.store_weights for module in cross_attention_modules(model))


# --- a text pair, as infer.py reads it ----------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_the_map_of_a_text_pair_has_a_row_per_written_piece_and_a_column_per_read_piece(folders, family):
    trained = load_model(folders / family)
    source = word_source(trained, "borrow")
    attention = attention_map(trained, source, "貸す")
    layers_heads, _ = FAMILIES[family]
    assert attention.family == family and attention.source == source and attention.target == "貸す"
    assert attention.weights.shape == (*layers_heads, len(attention.target_pieces),
                                       len(attention.source_pieces))
    # the word, ⟨sep⟩, the answer
    assert attention.source_pieces == trained.tokenizer.pieces(source) + ["</s>"]
    assert attention.target_pieces == trained.tokenizer.pieces("貸す") + ["</s>"]
    assert torch.allclose(attention.weights.sum(-1), torch.ones(attention.weights.shape[:-1]))


def test_the_source_is_the_one_inference_reads(folders):
    trained = load_model(folders / "gru")
    assert word_source(trained, "borrow") == "borrow ⟨sep⟩ 借りる"  # the answer stored with the model
    assert word_source(trained, "ｂｏｒｒｏｗ", correct=["貸す"]) == "borrow ⟨sep⟩ 貸す"  # a quiz row's own, normalised


# --- the figure -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_infer_draws_the_first_words_best_distractor(folders, family, tmp_path, capsys):
    path = tmp_path / "map.png"
    argv = ["--model", str(folders / family), "--word", "borrow", "--word", "dog", *ONE_SAMPLE,
            "--plot-attention", str(path)]
    assert run_main(infer.main, argv) == 0
    captured = capsys.readouterr()
    best = captured.out.splitlines()[0].split(": ")[1]  # 'borrow: 貸す': a line a word, best first
    assert captured.err.splitlines()[-1] == f"wrote the attention map of 'borrow' → {best} to {path}"
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def one_line_error(capsys, argv) -> str:
    code = run_main(infer.main, argv)
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def test_without_matplotlib_it_is_one_line_saying_how_to_install_it(folders, tmp_path, capsys, monkeypatch):
    for name in [name for name in sys.modules if name.startswith("matplotlib")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules makes the import fail
    argv = ["--model", str(folders / "gru"), "--word", "borrow", *ONE_SAMPLE,
            "--plot-attention", str(tmp_path / "m.png")]
    assert "pip install matplotlib" in one_line_error(capsys, argv)
    assert not (tmp_path / "m.png").exists()


def test_a_path_that_cannot_be_written_is_one_line(folders, tmp_path, capsys):
    path = tmp_path / "no such folder" / "map.png"
    argv = ["--model", str(folders / "gru"), "--word", "borrow", *ONE_SAMPLE, "--plot-attention", str(path)]
    assert f"{path}: there is no folder" in one_line_error(capsys, argv)  # said before any work


def test_without_a_japanese_font_one_line_says_how_to_install_one_and_it_still_draws(folders, tmp_path,
                                                                                      capsys, monkeypatch):
    monkeypatch.setattr(seq2seq.plotting, "japanese_font", lambda: None)
    trained = load_model(folders / "gru")
    path = draw_attention_map(attention_map(trained, word_source(trained, "borrow"), "貸す"),
                              tmp_path / "map.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "sudo apt install fonts-noto-cjk" in err


def test_matplotlibs_own_font_is_not_taken_for_a_japanese_one():
    from matplotlib import font_manager

    assert not has_japanese(font_manager.findfont("DejaVu Sans"))
