"""The Transformer: layers against PyTorch's own (same weights, same run), masks, the cache, the state."""
import io
import math

import pytest
import torch
from torch import nn

from seq2seq.config import ModelConfig
from seq2seq.models.attention import causal_mask, padding_mask
from seq2seq.models.base import Memory, select_batch
from seq2seq.models.transformer import DecoderLayer, DecoderState, EncoderLayer, PositionalEncoding, Transformer

D_MODEL, N_HEADS, D_FF = 16, 4, 32
PAD = 0
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


def batch_of_sources():
    """Two sources of lengths 5 and 3, padded to 5 with PAD."""
    return torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, PAD, PAD]])


def targets():
    """Teacher-forcing inputs (BOS = 1 first), the second row padded at the end."""
    return torch.tensor([[1, 13, 14, 15, 16, 17], [1, 18, 19, 20, PAD, PAD]])


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


def change_token(ids: torch.Tensor, position: int) -> torch.Tensor:
    changed = ids.clone()
    changed[:, position] = (changed[:, position] + 1) % 23
    return changed


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


def test_too_long_source_gives_a_clear_error():
    model = tiny_model(max_len=4)
    with pytest.raises(ValueError, match=r"5 pieces is longer than max_len=4"):
        model(batch_of_sources(), targets()[:, :3])


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


def test_output_projection_is_tied_to_the_embedding():
    model = tiny_model()
    assert model.output.weight is model.embed.weight
    n_shared = sum(p is model.embed.weight for p in model.parameters())
    assert n_shared == 1  # counted, and trained, once
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(batch_of_sources(), targets()).sum().backward()
    optimizer.step()
    assert torch.equal(model.output.weight, model.embed.weight)


# --- the whole model -------------------------------------------------------------------------------------


def test_output_shapes():
    model = tiny_model()
    src = batch_of_sources()
    memory = model.encode(src, src != PAD)
    assert memory.states.shape == (2, 5, D_MODEL)
    assert model(src, targets()).shape == (2, 6, 23)
    logits, state = model.decode_step(torch.ones(2, dtype=torch.long), memory)
    assert logits.shape == (2, 23)
    assert isinstance(state, DecoderState) and len(state.layers) == 2 and state.steps == 1
    assert state.layers[0].self_kv.key.shape == (2, N_HEADS, 1, D_MODEL // N_HEADS)
    assert state.layers[0].memory_kv.key.shape == (2, N_HEADS, 5, D_MODEL // N_HEADS)


def test_every_parameter_gets_a_gradient():
    model = tiny_model()
    model(batch_of_sources(), targets()).logsumexp(-1).sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_changing_a_future_target_token_never_changes_earlier_logits():
    model = tiny_model()
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad():
        before = model(src, tgt)
        after = model(src, change_token(tgt, position=3))
    assert (after[:, :3] - before[:, :3]).abs().max() <= TOL
    assert (after[:, 3:] - before[:, 3:]).abs().max() > 1e-3  # the test can see a change


def test_padded_source_tokens_never_change_outputs():
    model = tiny_model()
    src, tgt = batch_of_sources(), targets()
    src_mask = src != PAD
    scribbled = src.masked_fill(~src_mask, 22)  # other tokens where the mask says "padding"
    with torch.no_grad():
        memory, memory_scribbled = model.encode(src, src_mask), model.encode(scribbled, src_mask)
        real = src_mask[:, :, None].expand_as(memory.states)
        assert (memory.states[real] - memory_scribbled.states[real]).abs().max() <= TOL
        assert (model.decode(tgt, memory) - model.decode(tgt, memory_scribbled)).abs().max() <= TOL


def test_extra_padding_never_changes_logits():
    model = tiny_model()
    src, tgt = batch_of_sources(), targets()
    longer = torch.cat([src, torch.full((2, 3), PAD)], dim=1)  # (2, 8)
    with torch.no_grad():
        assert (model(longer, tgt) - model(src, tgt)).abs().max() <= TOL


def test_cached_decode_steps_reproduce_forward():
    model = tiny_model()
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad():
        expected = model(src, tgt)  # (2, 6, vocab)
        memory = model.encode(src, src != PAD)
        state = None
        for t in range(tgt.size(1)):
            logits, state = model.decode_step(tgt[:, t], memory, state)
            assert state.steps == t + 1
            assert (logits - expected[:, t]).abs().max() <= TOL, f"step {t}"


def test_select_batch_reorders_hypotheses_in_memory_and_state():
    """Decode two sources, swap them mid-sequence, and each keeps its own continuation."""
    model = tiny_model()
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


def test_select_batch_can_repeat_a_hypothesis():
    model = tiny_model()
    src, tgt = batch_of_sources(), targets()
    repeat = torch.tensor([0, 0, 1])
    with torch.no_grad():
        memory = model.encode(src, src != PAD)
        _, state = model.decode_step(tgt[:, 0], memory)
        memory, state = select_batch(memory, repeat), select_batch(state, repeat)
        logits, state = model.decode_step(tgt[repeat, 1], memory, state)
        expected = model(src, tgt)[:, 1]
    assert state.layers[1].self_kv.key.size(0) == 3
    assert (logits - expected[repeat]).abs().max() <= TOL


def test_dropout_acts_only_in_training():
    model = tiny_model(dropout=0.5)
    src, tgt = batch_of_sources(), targets()
    model.train()
    assert not torch.equal(model(src, tgt), model(src, tgt))
    model.eval()
    assert torch.equal(model(src, tgt), model(src, tgt))


def test_runs_under_cpu_bf16_autocast():
    model = tiny_model()
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(src, tgt)
        step_logits, _ = model.decode_step(tgt[:, 0], model.encode(src, src != PAD))
    assert torch.isfinite(logits).all() and torch.isfinite(step_logits).all()
    assert (step_logits.float() - logits[:, 0].float()).abs().max() < 0.1  # bf16 keeps ~3 digits


def test_state_dict_round_trip_rebuilds_the_same_model():
    model = tiny_model()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state_dict = torch.load(buffer, weights_only=True)
    assert not any(key.startswith("positions.") for key in state_dict)  # recomputed, not stored
    rebuilt = Transformer(tiny_config())
    rebuilt.load_state_dict(state_dict)
    rebuilt.eval()
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad():
        assert torch.equal(rebuilt(src, tgt), model(src, tgt))


def test_memory_is_the_shared_interface_type():
    model = tiny_model()
    src = batch_of_sources()
    memory = model.encode(src, src != PAD)
    assert isinstance(memory, Memory) and torch.equal(memory.src_mask, src != PAD)
