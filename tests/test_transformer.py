"""The Transformer: layers against PyTorch's own (same weights, same run), masks, the cache, the state.

The contract every family keeps (shapes, padding, causality, select_batch, modes, saving) is checked in
test_model_interface.py; here only what is particular to the Transformer.
"""
import math

import pytest
import torch
from torch import nn

from seq2seq.config import ModelConfig
from seq2seq.models.attention import causal_mask, padding_mask
from seq2seq.models.transformer import (DecoderLayer, DecoderState, EncoderLayer, PositionalEncoding,
                                        Transformer)
from tests.helpers import PAD, batch_of_sources, targets

D_MODEL, N_HEADS, D_FF = 16, 4, 32
TOL = 1e-5


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tiny_config(**overrides) -> ModelConfig:
    settings = dict(vocab_size=23, d_model=D_MODEL, n_heads=N_HEADS, n_encoder_layers=2, n_decoder_layers=2,
                    d_ff=D_FF, dropout=0.1, max_len=12, pad_id=PAD)
    return ModelConfig(**{**settings, **overrides})


def tiny_model(**overrides) -> Transformer:
    return Transformer(tiny_config(**overrides)).eval()  # eval: dropout off, outputs deterministic


def copy_attention(ref: nn.MultiheadAttention, ours) -> None:
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)


def copy_common(ref, ours) -> None:
    """Feed-forward and the LayerNorms have the same names in both, apart from our `ff.` prefix."""
    ref.linear1.load_state_dict(ours.ff.linear1.state_dict())
    ref.linear2.load_state_dict(ours.ff.linear2.state_dict())
    for name in ("norm1", "norm2", "norm3"):
        if hasattr(ours, name):
            getattr(ref, name).load_state_dict(getattr(ours, name).state_dict())


def randomise_layer_norms(layer: nn.Module) -> None:
    """LayerNorms start as the identity; random gains and shifts make sure they are copied and applied."""
    with torch.no_grad():
        for module in layer.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)


# --- layers against PyTorch ------------------------------------------------------------------------------


def test_encoder_layer_matches_pytorch(no_mha_fastpath):
    ours = EncoderLayer(D_MODEL, N_HEADS, D_FF, dropout=0.0).eval()
    randomise_layer_norms(ours)
    ref = nn.TransformerEncoderLayer(D_MODEL, N_HEADS, D_FF, dropout=0.0, activation="gelu",
                                     batch_first=True, norm_first=True).eval()
    copy_attention(ref.self_attn, ours.self_attn)
    copy_common(ref, ours)
    x = torch.randn(2, 5, D_MODEL)
    src_mask = batch_of_sources() != PAD
    with torch.no_grad():
        expected = ref(x, src_key_padding_mask=~src_mask)  # PyTorch: True = ignore
        got = ours(x, padding_mask(src_mask))
    assert (got - expected).abs().max() <= TOL


def test_decoder_layer_matches_pytorch(no_mha_fastpath):
    ours = DecoderLayer(D_MODEL, N_HEADS, D_FF, dropout=0.0).eval()
    randomise_layer_norms(ours)
    ref = nn.TransformerDecoderLayer(D_MODEL, N_HEADS, D_FF, dropout=0.0, activation="gelu",
                                     batch_first=True, norm_first=True).eval()
    copy_attention(ref.self_attn, ours.self_attn)
    copy_attention(ref.multihead_attn, ours.cross_attn)
    copy_common(ref, ours)
    x, memory = torch.randn(2, 6, D_MODEL), torch.randn(2, 5, D_MODEL)
    src_mask = batch_of_sources() != PAD
    with torch.no_grad():
        expected = ref(x, memory, tgt_mask=~causal_mask(6)[0, 0], memory_key_padding_mask=~src_mask)
        got = ours(x, memory, causal_mask(6), padding_mask(src_mask))
    assert (got - expected).abs().max() <= TOL


def test_model_uses_no_pytorch_transformer_modules():
    for module in tiny_model().modules():
        assert not isinstance(module, nn.MultiheadAttention)
        assert not type(module).__module__.startswith("torch.nn.modules.transformer"), type(module)


def test_rejects_width_not_divisible_by_heads():
    with pytest.raises(ValueError, match="divisible"):
        Transformer(tiny_config(d_model=18))


# --- positions and embeddings ----------------------------------------------------------------------------


def test_positional_table_follows_the_formula():
    table = PositionalEncoding(D_MODEL, max_len=12).table
    for pos, i in [(0, 0), (3, 0), (7, 2), (11, 7)]:
        angle = pos / 10000 ** (2 * i / D_MODEL)
        assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_token_vectors_are_scaled_embeddings_plus_positions():
    model = tiny_model()
    ids = batch_of_sources()
    expected = model.embed.weight[ids] * math.sqrt(D_MODEL) + model.positions.table[:5]
    assert (model.embed_tokens(ids) - expected).abs().max() <= TOL
    # Scaled, a token vector is about as large as a position vector (entries of unit size on average).
    assert 0.5 < (model.embed.weight * math.sqrt(D_MODEL)).std().item() < 1.5


def test_positional_table_is_recomputed_not_saved():
    assert not any(key.startswith("positions.") for key in tiny_model().state_dict())



def test_generating_past_max_len_gives_a_clear_error():
    model = tiny_model(max_len=5)
    src = batch_of_sources()
    memory = model.encode(src, src != PAD)
    state = None
    with torch.no_grad():
        for _ in range(5):
            _, state = model.decode_step(torch.ones(2, dtype=torch.long), memory, state)
        with pytest.raises(ValueError, match="max_len=5"):
            model.decode_step(torch.ones(2, dtype=torch.long), memory, state)


# --- the cache and the state -----------------------------------------------------------------------------


def test_state_holds_a_cache_per_layer_that_grows_a_step_at_a_time():
    model = tiny_model()
    src, tgt = batch_of_sources(), targets()
    head_dim = D_MODEL // N_HEADS
    with torch.no_grad():
        memory = model.encode(src, src != PAD)
        state = None
        for t in range(tgt.size(1)):
            _, state = model.decode_step(tgt[:, t], memory, state)
            assert isinstance(state, DecoderState) and len(state.layers) == 2 and state.steps == t + 1
            for cache in state.layers:
                assert cache.self_kv.key.shape == cache.self_kv.value.shape == (2, N_HEADS, t + 1, head_dim)
                assert cache.memory_kv.key.shape == cache.memory_kv.value.shape == (2, N_HEADS, 5, head_dim)


def test_parallel_decode_never_reads_the_memory_at_padding():
    """`decoder_outputs` (all target positions at once, which `forward` uses) from a memory whose padded
    positions were computed from other tokens."""
    model = tiny_model()
    src, tgt = batch_of_sources(), targets()
    src_mask = src != PAD
    with torch.no_grad():
        memory, scribbled = (model.encode(src, src_mask),
                             model.encode(src.masked_fill(~src_mask, 22), src_mask))
        assert (memory.states - scribbled.states).abs().max() > 1e-3  # the padded states really differ
        assert (model.decoder_outputs(tgt, scribbled) - model.decoder_outputs(tgt, memory)).abs().max() <= TOL
