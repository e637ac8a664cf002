"""Attention against PyTorch's own nn.MultiheadAttention (same weights, same run) and against the equation."""
import math

import pytest
import torch
from torch import nn

from seq2seq.models.attention import MultiHeadAttention, causal_mask, padding_mask

D_MODEL, N_HEADS = 16, 4
TOL = 1e-5


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def reference_with_same_weights(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    """An nn.MultiheadAttention holding our weights: its in_proj stacks our q, k, v projections."""
    ref = nn.MultiheadAttention(D_MODEL, N_HEADS, dropout=0.0, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    return ref.eval()


def src_mask_of_lengths(batch_lengths, max_len):
    """(batch, max_len), True at the first `length` positions of each row."""
    return torch.arange(max_len)[None, :] < torch.tensor(batch_lengths)[:, None]


# --- masks -----------------------------------------------------------------------------------------------


def test_padding_mask_shape_and_meaning():
    src_mask = src_mask_of_lengths([3, 1], max_len=4)
    mask = padding_mask(src_mask)
    assert mask.shape == (2, 1, 1, 4)
    assert mask[0, 0, 0].tolist() == [True, True, True, False]
    assert mask[1, 0, 0].tolist() == [True, False, False, False]


def test_causal_mask_allows_only_past_and_present():
    mask = causal_mask(3)
    assert mask.shape == (1, 1, 3, 3) and mask.dtype == torch.bool
    assert mask[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, True]]


# --- the fused kernel and the written-out lines --------------------------------------------------------


def written_out(attn: MultiHeadAttention) -> MultiHeadAttention:
    """The same module, computing the equation line by line instead of in PyTorch's fused kernel."""
    attn.fused = False
    return attn


@pytest.mark.parametrize("mask_kind", ["none", "padding", "causal", "both"])
def test_fused_kernel_and_written_out_lines_agree(mask_kind):
    attn = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    x = torch.randn(2, 5, D_MODEL)
    masks = {
        "none": None,
        "padding": padding_mask(src_mask_of_lengths([5, 2], 5)),
        "causal": causal_mask(5),
        "both": padding_mask(src_mask_of_lengths([5, 2], 5)) & causal_mask(5),
    }
    with torch.no_grad():
        fused = attn(x, x, masks[mask_kind])
        explicit = written_out(attn)(x, x, masks[mask_kind])
    assert (fused - explicit).abs().max() <= TOL


def test_written_out_lines_are_the_equation():
    """One batch row and head worked out with plain matrix algebra: softmax(q kᵀ / √head_dim) v."""
    attn = written_out(MultiHeadAttention(D_MODEL, N_HEADS).eval())
    attn.store_weights = True
    query, memory = torch.randn(2, 3, D_MODEL), torch.randn(2, 4, D_MODEL)
    head, head_dim = 2, D_MODEL // N_HEADS
    width = slice(head * head_dim, (head + 1) * head_dim)  # the head's slice of the model width
    with torch.no_grad():
        attn(query, memory)
        q = attn.q_proj(query)[1, :, width]  # (3, head_dim)
        k = attn.k_proj(memory)[1, :, width]  # (4, head_dim)
        expected = torch.softmax(q @ k.T / math.sqrt(head_dim), dim=-1)  # (3, 4)
    assert (attn.last_weights[1, head] - expected).abs().max() <= TOL


def test_weights_sum_to_one_and_are_zero_where_masked():
    attn = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    attn.store_weights = True  # which takes the written-out lines
    x = torch.randn(2, 5, D_MODEL)
    mask = padding_mask(src_mask_of_lengths([4, 2], 5)) & causal_mask(5)  # (2, 1, 5, 5)
    with torch.no_grad():
        attn(x, x, mask)
    weights = attn.last_weights  # (2, heads, 5, 5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, N_HEADS, 5))
    assert (weights[~mask.expand_as(weights)] == 0).all()
    assert (weights[mask.expand_as(weights)] > 0).all()


# --- multi-head attention --------------------------------------------------------------------------------


def test_rejects_width_not_divisible_by_heads():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 4)


def test_matches_pytorch_with_key_padding_mask(no_mha_fastpath):
    """Cross-attention shape: 3 queries over 5 keys, the second row's last 3 keys are padding."""
    ours = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    ref = reference_with_same_weights(ours)
    query, memory = torch.randn(2, 3, D_MODEL), torch.randn(2, 5, D_MODEL)
    src_mask = src_mask_of_lengths([5, 2], 5)
    with torch.no_grad():
        expected, _ = ref(query, memory, memory, key_padding_mask=~src_mask)  # PyTorch: True = ignore
        got = ours(query, memory, padding_mask(src_mask))
    assert (got - expected).abs().max() <= TOL


def test_matches_pytorch_with_causal_mask(no_mha_fastpath):
    ours = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    ref = reference_with_same_weights(ours)
    x = torch.randn(2, 6, D_MODEL)
    with torch.no_grad():
        expected, _ = ref(x, x, x, attn_mask=~causal_mask(6)[0, 0])  # PyTorch: True = not allowed
        got = ours(x, x, causal_mask(6))
    assert (got - expected).abs().max() <= TOL


def test_cache_one_step_at_a_time_equals_full_causal_self_attention():
    attn = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    x = torch.randn(2, 6, D_MODEL)
    with torch.no_grad():
        full = attn(x, x, causal_mask(6))  # (2, 6, d_model)
        cache = attn.project_kv(x[:, :0])  # empty: (2, heads, 0, head_dim)
        steps = []
        for t in range(6):
            out, cache = attn.extend(x[:, t : t + 1], cache)
            steps.append(out)
    assert cache.key.shape == (2, N_HEADS, 6, D_MODEL // N_HEADS)
    assert (torch.cat(steps, dim=1) - full).abs().max() <= TOL


def test_cache_extended_by_several_steps_at_once_is_causal_among_them():
    attn = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    x = torch.randn(2, 5, D_MODEL)
    with torch.no_grad():
        full = attn(x, x, causal_mask(5))
        _, cache = attn.extend(x[:, :2], attn.project_kv(x[:, :0]))  # two steps, then three
        rest, cache = attn.extend(x[:, 2:], cache)
    assert cache.length == 5
    assert (rest - full[:, 2:]).abs().max() <= TOL


def test_memory_projected_once_gives_the_same_cross_attention():
    attn = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    query, memory = torch.randn(2, 3, D_MODEL), torch.randn(2, 4, D_MODEL)
    mask = padding_mask(src_mask_of_lengths([4, 3], 4))
    with torch.no_grad():
        memory_kv = attn.project_kv(memory)
        assert memory_kv.key.shape == (2, N_HEADS, 4, D_MODEL // N_HEADS)
        assert (attn(query, memory_kv, mask) - attn(query, memory, mask)).abs().max() <= TOL


def test_weights_are_stored_only_when_asked():
    attn = MultiHeadAttention(D_MODEL, N_HEADS).eval()
    x = torch.randn(2, 3, D_MODEL)
    attn(x, x)
    assert attn.last_weights is None
    attn.store_weights = True
    out_with_weights = attn(x, x, causal_mask(3))
    assert attn.last_weights.shape == (2, N_HEADS, 3, 3) and not attn.last_weights.requires_grad
    attn.store_weights = False
    assert (attn(x, x, causal_mask(3)) - out_with_weights).abs().max() <= TOL
