"""The recurrent family (GRU/LSTM): attention against its equations, padding, the cached step, the state,
and a tiny model of each kind learning thirty pairs."""
import io

import numpy as np
import pytest
import torch

from seq2seq.batching import encode_pairs, make_batches
from seq2seq.config import DecodeConfig, ModelConfig, TrainConfig
from seq2seq.data import load_pairs
from seq2seq.decoding import distinct_outputs, encode_sources, generate, greedy_pick
from seq2seq.models import build_model, num_parameters
from seq2seq.models.base import Memory, select_batch
from seq2seq.models.rnn import (AdditiveAttention, DecoderState, DotAttention, GeneralAttention, RecurrentMemory,
                                RecurrentSeq2Seq)
from seq2seq.trainer import Trainer
from tokenizer import train_tokenizer

D_MODEL, VOCAB = 16, 23
PAD = 0
TOL = 1e-5
ARCHS = ["gru", "lstm"]
KINDS = ["additive", "dot", "general"]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tiny_config(**overrides) -> ModelConfig:
    settings = dict(arch="gru", vocab_size=VOCAB, d_model=D_MODEL, n_encoder_layers=2, n_decoder_layers=2,
                    dropout=0.1, max_len=12, pad_id=PAD)
    return ModelConfig(**{**settings, **overrides})


def tiny_model(**overrides) -> RecurrentSeq2Seq:
    return build_model(tiny_config(**overrides)).eval()  # eval: dropout off, outputs deterministic


def batch_of_sources():
    """Two sources of lengths 5 and 3, padded to 5 with PAD."""
    return torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, PAD, PAD]])


def targets():
    """Teacher-forcing inputs (BOS = 1 first), the second row padded at the end."""
    return torch.tensor([[1, 13, 14, 15, 16, 17], [1, 18, 19, 20, PAD, PAD]])


def step_by_step(model, memory, tgt):
    """Logits (batch, tgt_len, vocab) from decode_step fed the true previous tokens, as a decoding loop calls it."""
    state, logits = None, []
    for t in range(tgt.size(1)):
        step_logits, state = model.decode_step(tgt[:, t], memory, state)
        logits.append(step_logits)
    return torch.stack(logits, dim=1)


# --- attention against its equations --------------------------------------------------------------------


def query_keys_mask():
    """A query per row, five source states, and the second row's last two positions padding."""
    query, states = torch.randn(2, D_MODEL), torch.randn(2, 5, D_MODEL)
    return query, states, batch_of_sources() != PAD


def expected_scores(attention, kind, q, k):
    """The score each kind's paper writes down, worked out here with plain sums: (batch, src_len)."""
    if kind == "additive":  # vᵀ tanh(W q + U k + b)
        W, U, b = attention.query_proj.weight, attention.key_proj.weight, attention.key_proj.bias
        v = attention.v.weight[0]
        hidden = torch.tanh(torch.einsum("ed,bd->be", W, q)[:, None] + torch.einsum("ed,bsd->bse", U, k) + b)
        return torch.einsum("e,bse->bs", v, hidden)
    if kind == "dot":  # qᵀ k
        return (q[:, None, :] * k).sum(-1)
    W = attention.key_proj.weight  # general: qᵀ W k
    return torch.einsum("bd,de,bse->bs", q, W, k)


@pytest.mark.parametrize("kind", KINDS)
def test_attention_follows_its_equation(kind):
    attention = {"additive": AdditiveAttention, "dot": DotAttention, "general": GeneralAttention}[kind](D_MODEL)
    q, states, mask = query_keys_mask()
    with torch.no_grad():
        context, weights = attention(q, attention.prepare_keys(states), states, mask)
        scores = expected_scores(attention, kind, q, states).masked_fill(~mask, float("-inf"))
        expected_weights = scores.exp() / scores.exp().sum(-1, keepdim=True)
        expected_context = torch.einsum("bs,bsd->bd", expected_weights, states)
    assert (weights - expected_weights).abs().max() <= TOL
    assert (context - expected_context).abs().max() <= TOL


@pytest.mark.parametrize("kind", KINDS)
def test_attention_weights_sum_to_one_and_padding_gets_exactly_zero(kind):
    model = tiny_model(attention=kind)
    weights = model.attention_map(batch_of_sources(), targets())  # (batch, tgt_len, src_len)
    assert weights.shape == (2, 6, 5)
    assert torch.all(weights[1, :, 3:] == 0)  # exactly zero, not merely small
    assert torch.all(weights[:, :, :3] > 0)
    assert (weights.sum(-1) - 1).abs().max() <= 1e-6
    assert model.decoder.attention.store_weights is False  # the map switched it on only while it ran


def test_attention_weights_are_kept_only_when_asked():
    model = tiny_model()
    src = batch_of_sources()
    with torch.no_grad():
        model.decode_step(torch.ones(2, dtype=torch.long), model.encode(src, src != PAD))
        assert model.decoder.attention.last_weights is None
        model.decoder.attention.store_weights = True
        model.decode_step(torch.ones(2, dtype=torch.long), model.encode(src, src != PAD))
    assert model.decoder.attention.last_weights.shape == (2, 5)


# --- shapes and parts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHS)
def test_output_shapes(arch):
    model = tiny_model(arch=arch, n_encoder_layers=2, n_decoder_layers=3)
    src = batch_of_sources()
    memory = model.encode(src, src != PAD)
    assert isinstance(memory, RecurrentMemory) and isinstance(memory, Memory)
    assert memory.states.shape == (2, 5, D_MODEL)
    assert memory.final.shape == (2, 2, D_MODEL)  # (batch, encoder layers, d_model)
    assert model(src, targets()).shape == (2, 6, VOCAB)
    logits, state = model.decode_step(torch.ones(2, dtype=torch.long), memory)
    assert logits.shape == (2, VOCAB)
    assert isinstance(state, DecoderState)
    assert state.hidden.shape == (2, 3, D_MODEL)  # batch first, then decoder layers
    assert state.cell is None if arch == "gru" else state.cell.shape == (2, 3, D_MODEL)
    assert state.attentional.shape == (2, D_MODEL)
    assert model.decoder.layers[0].input_size == 2 * D_MODEL  # input feeding: embedding ⊕ attentional vector


@pytest.mark.parametrize("arch", ARCHS)
def test_encoder_reads_each_source_as_if_alone(arch):
    """Packing: a short source padded in a batch gets the states it gets on its own, zero at padding,
    and its final states are the forward direction at its last real token, the backward one at its first."""
    model = tiny_model(arch=arch)
    src = batch_of_sources()
    alone = src[1:, :3]  # the second source without its padding
    with torch.no_grad():
        memory, memory_alone = model.encode(src, src != PAD), model.encode(alone, alone != PAD)
    assert (memory.states[1, :3] - memory_alone.states[0]).abs().max() <= TOL
    assert (memory.final[1] - memory_alone.final[0]).abs().max() <= TOL
    assert torch.all(memory.states[1, 3:] == 0)
    half = D_MODEL // 2
    top = memory.final[:, -1]  # (batch, d_model): the top layer, whose outputs are the states
    assert (top[1, :half] - memory.states[1, 2, :half]).abs().max() <= TOL  # forward, at the last real token
    assert (top[:, half:] - memory.states[:, 0, half:]).abs().max() <= TOL  # backward, at the first


def test_bridge_starts_the_decoder_from_the_encoder_summary():
    model = tiny_model(n_encoder_layers=2, n_decoder_layers=3)
    src = batch_of_sources()
    with torch.no_grad():
        memory = model.encode(src, src != PAD)
        state = model.decoder.start_state(memory)
        for layer, from_encoder in enumerate([0, 1, 1]):  # the extra decoder layer reads the encoder's top
            bridge = model.decoder.bridge[layer]
            expected = torch.tanh(memory.final[:, from_encoder] @ bridge.weight.T + bridge.bias)
            assert (state.hidden[:, layer] - expected).abs().max() <= TOL
    assert torch.all(state.attentional == 0)


@pytest.mark.parametrize("arch", ARCHS)
def test_output_projection_is_tied_to_the_embedding(arch):
    model = tiny_model(arch=arch)
    assert model.output.weight is model.embedding.weight
    assert sum(p is model.embedding.weight for p in model.parameters()) == 1  # counted, and trained, once
    untied = sum(p.numel() for p in model.state_dict().values()) - model.embedding.weight.numel()
    assert num_parameters(model) == untied


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_parameter_gets_a_gradient(arch, kind):
    model = tiny_model(arch=arch, attention=kind)
    model(batch_of_sources(), targets()).logsumexp(-1).sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


# --- padding, the cached step, the state -------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kind", KINDS)
def test_padded_source_tokens_never_change_outputs(arch, kind):
    model = tiny_model(arch=arch, attention=kind)
    src, tgt = batch_of_sources(), targets()
    scribbled = src.masked_fill(src == PAD, 22)  # other tokens where the mask says "padding"
    longer = torch.cat([src, torch.full((2, 3), PAD)], dim=1)  # (2, 8): more padding
    with torch.no_grad():
        expected = model(src, tgt)
        assert (step_by_step(model, model.encode(scribbled, src != PAD), tgt) - expected).abs().max() <= TOL
        assert (model(longer, tgt) - expected).abs().max() <= TOL


@pytest.mark.parametrize("arch", ARCHS)
def test_cached_decode_steps_reproduce_forward(arch):
    model = tiny_model(arch=arch)
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad():
        expected = model(src, tgt)  # (2, 6, vocab)
        got = step_by_step(model, model.encode(src, src != PAD), tgt)
    assert (got - expected).abs().max() <= TOL


@pytest.mark.parametrize("arch", ARCHS)
def test_changing_a_future_target_token_never_changes_earlier_logits(arch):
    model = tiny_model(arch=arch)
    src, tgt = batch_of_sources(), targets()
    changed = tgt.clone()
    changed[:, 3] = 21
    with torch.no_grad():
        before, after = model(src, tgt), model(src, changed)
    assert (after[:, :3] - before[:, :3]).abs().max() <= TOL
    assert (after[:, 3:] - before[:, 3:]).abs().max() > 1e-3  # the test can see a change


@pytest.mark.parametrize("arch", ARCHS)
def test_select_batch_reorders_hypotheses_in_memory_and_state(arch):
    """Decode two sources, swap them mid-sequence, and each keeps its own continuation."""
    model = tiny_model(arch=arch)
    src, tgt = batch_of_sources(), targets()
    swap = torch.tensor([1, 0])
    with torch.no_grad():
        memory = model.encode(src, src != PAD)
        state = None
        for t in range(3):
            _, state = model.decode_step(tgt[:, t], memory, state)
        straight, _ = model.decode_step(tgt[:, 3], memory, state)
        swapped, _ = model.decode_step(tgt[swap, 3], select_batch(memory, swap), select_batch(state, swap))
    assert (swapped - straight[swap]).abs().max() <= TOL
    assert (swapped - straight).abs().max() > 1e-3  # the two rows really differ


@pytest.mark.parametrize("arch", ARCHS)
def test_select_batch_can_repeat_a_hypothesis(arch):
    model = tiny_model(arch=arch)
    src, tgt = batch_of_sources(), targets()
    repeat = torch.tensor([0, 0, 1])
    with torch.no_grad():
        memory = model.encode(src, src != PAD)
        _, state = model.decode_step(tgt[:, 0], memory)
        memory, state = select_batch(memory, repeat), select_batch(state, repeat)
        logits, state = model.decode_step(tgt[repeat, 1], memory, state)
        expected = model(src, tgt)[:, 1]
    assert state.hidden.size(0) == 3 and state.keys.size(0) == 3
    assert (logits - expected[repeat]).abs().max() <= TOL


# --- settings, modes, saving -------------------------------------------------------------------------------


def test_too_long_source_gives_a_clear_error():
    model = tiny_model(max_len=4)
    with pytest.raises(ValueError, match=r"5 pieces is longer than max_len=4"):
        model(batch_of_sources(), targets()[:, :3])


@pytest.mark.parametrize("setting, message", [
    ({"attention": "cosine"}, "attention 'cosine' is not known"),
    ({"d_model": 15}, "must be even"),
    ({"n_decoder_layers": 0}, "at least 1"),
    ({"vocab_size": 0}, "vocab_size must be positive"),
])
def test_bad_settings_are_refused_with_a_reason(setting, message):
    with pytest.raises(ValueError, match=message):
        tiny_model(**setting)


@pytest.mark.parametrize("arch", ARCHS)
def test_dropout_acts_only_in_training(arch):
    model = tiny_model(arch=arch, dropout=0.5)
    src, tgt = batch_of_sources(), targets()
    model.train()
    assert not torch.equal(model(src, tgt), model(src, tgt))
    model.eval()
    assert torch.equal(model(src, tgt), model(src, tgt))


@pytest.mark.parametrize("arch", ARCHS)
def test_runs_under_cpu_bf16_autocast(arch):
    model = tiny_model(arch=arch)
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(src, tgt)
    assert torch.isfinite(logits).all()
    with torch.no_grad():
        assert (logits.float() - model(src, tgt)).abs().max() < 0.1  # bf16 keeps ~3 digits


@pytest.mark.parametrize("arch", ARCHS)
def test_state_dict_round_trip_rebuilds_the_same_model(arch):
    model = tiny_model(arch=arch, attention="general")
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    rebuilt = build_model(tiny_config(arch=arch, attention="general"))
    rebuilt.load_state_dict(torch.load(buffer, weights_only=True))
    rebuilt.eval()
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad():
        assert torch.equal(rebuilt(src, tgt), model(src, tgt))


# --- learning -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=ARCHS)
def trained(request, tmp_path_factory):
    """A tiny GRU or LSTM trained on thirty English → Japanese pairs until it knows them."""
    from tests.conftest import PAIRS, write_csv

    rows = sorted({(english, correct) for english, _, correct in PAIRS})
    pairs = load_pairs(write_csv(tmp_path_factory.mktemp("rnn") / "lexicon.csv", ["English", "Japanese"], rows))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a module fixture runs outside the per-test one-thread fixture
    tokenizer = train_tokenizer(list(pairs["source"]) + list(pairs["target"]), 400)
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=request.param, vocab_size=tokenizer.vocab_size, d_model=48,
                                    n_encoder_layers=1, n_decoder_layers=1, dropout=0.0))
    examples, _ = encode_pairs(pairs, tokenizer, max_len=32)
    config = TrainConfig(epochs=60, batch_size=10, lr=1e-2, warmup_steps=10, label_smoothing=0.0, weight_decay=0.0)
    trainer = Trainer(model, config, tokenizer.pad_id, torch.device("cpu"), torch.float32, folder=None, progress=False)
    rng = np.random.default_rng(0)
    fixed = make_batches(examples, tokenizer, 30)
    before = trainer.validation_loss(fixed)
    result = trainer.fit(lambda epoch: make_batches(examples, tokenizer, 10, rng), fixed)
    torch.set_num_threads(threads)
    return pairs, tokenizer, model.eval(), before, result


def test_tiny_model_overfits_thirty_pairs(trained):
    pairs, tokenizer, model, before, result = trained
    assert before > 4.0
    assert result.valid_loss < 0.1  # nats per token on the training pairs themselves
    outputs = generate(model, encode_sources(model, tokenizer, list(pairs["source"])), tokenizer, 10, greedy_pick())
    decoded = [tokenizer.decode(ids) if ids is not None else None for ids in outputs]
    exact = np.mean([out == target for out, target in zip(decoded, pairs["target"])])
    assert exact >= 0.9


@pytest.mark.parametrize("method", ["sample", "beam", "greedy"])
def test_distinct_outputs_runs_on_the_model_unchanged(trained, method):
    _, tokenizer, model, _, _ = trained
    config = DecodeConfig(method=method, n=3, beam_size=3, max_len=10, max_attempts=3, seed=0)
    found = distinct_outputs(model, tokenizer, ["dog", "river"], [{"犬"}, set()], n=3, config=config)
    assert len(found) == 2 and all(len(outputs) <= 3 for outputs in found)
    assert "犬" not in found[0]  # the excluded correct answer
    assert all(len(set(outputs)) == len(outputs) for outputs in found)
    if method == "greedy":
        assert found[1] == ["川"]  # the trained model knows this one
    else:
        assert len(found[1]) >= 1
