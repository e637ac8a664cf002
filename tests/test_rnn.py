"""The recurrent family (GRU/LSTM): attention against its equations, the encoder's packing, the bridge, the
layout of the state, and a tiny model of each kind learning thirty pairs.

The contract every family keeps (shapes, padding, causality, select_batch, modes, saving) is checked in
test_model_interface.py; here only what is particular to the recurrent models.
"""
import pytest
import torch

from seq2seq.attention_maps import cross_attention
from seq2seq.config import DecodeConfig, ModelConfig
from seq2seq.decoding import distinct_outputs
from seq2seq.errors import UserError
from seq2seq.models import build_model
from seq2seq.models.attention import AdditiveAttention, DotAttention, GeneralAttention
from seq2seq.models.rnn import DecoderState, RecurrentMemory, RecurrentSeq2Seq
from tests.helpers import PAD, batch_of_sources, overfit, targets

D_MODEL, VOCAB = 16, 23
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
    attention = {"additive": AdditiveAttention, "dot": DotAttention,
                 "general": GeneralAttention}[kind](D_MODEL)
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
    weights = cross_attention(model, batch_of_sources(), targets())[:, 0, 0]  # (batch, tgt_len, src_len)
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
def test_memory_and_state_hold_every_layer_batch_first(arch):
    model = tiny_model(arch=arch, n_encoder_layers=2, n_decoder_layers=3)
    src = batch_of_sources()
    memory = model.encode(src, src != PAD)
    assert isinstance(memory, RecurrentMemory)
    assert memory.final.shape == (2, 2, D_MODEL)  # (batch, encoder layers, d_model)
    _, state = model.decode_step(torch.ones(2, dtype=torch.long), memory)
    assert isinstance(state, DecoderState)
    assert state.hidden.shape == (2, 3, D_MODEL)  # batch first, then decoder layers
    assert state.cell is None if arch == "gru" else state.cell.shape == (2, 3, D_MODEL)
    assert state.attentional.shape == (2, D_MODEL)
    assert state.keys.shape == (2, 5, D_MODEL)  # the source prepared for scoring, once per source
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
        state = model.start_state(memory)
        for layer, from_encoder in enumerate([0, 1, 1]):  # the extra decoder layer reads the encoder's top
            bridge = model.decoder.bridge[layer]
            expected = torch.tanh(memory.final[:, from_encoder] @ bridge.weight.T + bridge.bias)
            assert (state.hidden[:, layer] - expected).abs().max() <= TOL
    assert torch.all(state.attentional == 0)


# --- settings, modes, saving -------------------------------------------------------------------------------


@pytest.mark.parametrize("setting, message", [
    ({"attention": "cosine"}, "attention 'cosine' is not known"),
    ({"d_model": 15}, "must be even"),
    ({"n_decoder_layers": 0}, "at least 1"),
    ({"vocab_size": 0}, "vocab_size must be positive"),
])
def test_bad_settings_are_refused_with_a_reason(setting, message):
    with pytest.raises(UserError, match=message):
        tiny_model(**setting)


# --- learning -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=ARCHS)
def trained(request):
    """A tiny GRU or LSTM trained on the shared English → Japanese pairs until it knows them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a module fixture runs outside the per-test one-thread fixture
    run = overfit(dict(arch=request.param, d_model=48, n_encoder_layers=1, n_decoder_layers=1), epochs=60,
                  lr=1e-2)
    torch.set_num_threads(threads)
    return run


def test_tiny_model_overfits_thirty_pairs(trained):
    assert trained.loss_before > 4.0
    assert trained.result.valid_loss < 0.1  # nats per token on the training pairs themselves
    assert trained.greedy_exact_rate() >= 0.9


@pytest.mark.parametrize("method", ["sample", "beam", "greedy"])
def test_distinct_outputs_runs_on_the_model_unchanged(trained, method):
    tokenizer, model = trained.tokenizer, trained.model
    config = DecodeConfig(method=method, n=3, beam_size=3, max_len=10, max_attempts=3, seed=0)
    found = distinct_outputs(model, tokenizer, ["dog", "river"], [{"犬"}, set()], n=3, config=config)
    assert len(found) == 2 and all(len(outputs) <= 3 for outputs in found)
    assert "犬" not in found[0]  # the excluded correct answer
    assert all(len(set(outputs)) == len(outputs) for outputs in found)
    if method == "greedy":
        assert found[1] == ["川"]  # the trained model knows this one
    else:
        assert len(found[1]) >= 1
