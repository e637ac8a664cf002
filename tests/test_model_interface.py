"""The contract every model family keeps (seq2seq/models/base.py), checked once for each of them.

encode / decode_step / forward agree with each other, padding and future tokens never leak in, every tensor
in a Memory or decoder state keeps the batch in dim 0 so `select_batch` can reorder and repeat hypotheses,
and the usual modes (dropout, bf16 autocast, saving) behave. Family-specific checks (layer equations, the
layout of each family's state) stay in test_transformer.py and test_rnn.py.
"""
import io
from dataclasses import fields, is_dataclass

import pytest
import torch
from torch import nn

from seq2seq.config import ModelConfig
from seq2seq.decoding import (forbid, generate, never_drawn, output_precision, sample_distinct,
                              sequence_log_probs)
from seq2seq.models import build_model, num_parameters
from seq2seq.models.base import Memory, Seq2SeqModel, select_batch
from tests.helpers import PAD, batch_of_sources, targets

D_MODEL, VOCAB = 16, 23
TOL = 1e-5
KINDS = ["additive", "dot", "general"]  # the recurrent families' attention scores


def family(name: str, **settings) -> pytest.param:
    return pytest.param(settings, id=name)


# One tiny model of each family (recurrent ones with their default, additive attention) ...
FAMILIES = [family("transformer", arch="transformer"), family("gru", arch="gru"), family("lstm", arch="lstm")]
# ... and, where the attention score could matter, each recurrent family with every kind of attention.
EVERY_ATTENTION = [FAMILIES[0]] + [family(f"{arch}-{kind}", arch=arch, attention=kind)
                                   for arch in ("gru", "lstm") for kind in KINDS]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tiny_config(settings: dict, **overrides) -> ModelConfig:
    defaults = dict(vocab_size=VOCAB, d_model=D_MODEL, n_heads=4, n_encoder_layers=2, n_decoder_layers=2,
                    d_ff=32, dropout=0.1, max_len=12, pad_id=PAD)
    return ModelConfig(**{**defaults, **settings, **overrides})


def tiny_model(settings: dict, **overrides) -> Seq2SeqModel:
    return build_model(tiny_config(settings, **overrides)).eval()  # eval: dropout off, outputs deterministic


def step_by_step(model, memory, tgt):
    """Logits (batch, tgt_len, vocab) from decode_step fed the true previous tokens, as a decoding loop calls
    it."""
    state, logits = None, []
    for t in range(tgt.size(1)):
        step_logits, state = model.decode_step(tgt[:, t], memory, state)
        logits.append(step_logits)
    return torch.stack(logits, dim=1)


def tensors_in(tree) -> list[torch.Tensor]:
    """Every tensor inside a Memory or decoder state, found the way `select_batch` walks it."""
    if isinstance(tree, torch.Tensor):
        return [tree]
    if is_dataclass(tree):
        return [t for f in fields(tree) for t in tensors_in(getattr(tree, f.name))]
    if isinstance(tree, (list, tuple)):
        return [t for item in tree for t in tensors_in(item)]
    if isinstance(tree, dict):
        return [t for value in tree.values() for t in tensors_in(value)]
    return []


def assert_batch_first(tree, batch: int) -> None:
    """The convention decoding relies on: every tensor in `tree` has the batch in dim 0."""
    found = tensors_in(tree)
    assert found, f"no tensors in {type(tree).__name__}"
    assert [t.size(0) for t in found] == [batch] * len(found), [tuple(t.shape) for t in found]


# --- shapes and parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", FAMILIES)
def test_output_shapes(settings):
    model = tiny_model(settings)
    src = batch_of_sources()
    memory = model.encode(src, src != PAD)
    assert memory.states.shape == (2, 5, D_MODEL)
    assert model(src, targets()).shape == (2, 6, VOCAB)
    logits, state = model.decode_step(torch.ones(2, dtype=torch.long), memory)
    assert logits.shape == (2, VOCAB)
    assert_batch_first(memory, 2)
    assert_batch_first(state, 2)


@pytest.mark.parametrize("settings", FAMILIES)
def test_memory_is_the_shared_interface_type(settings):
    model = tiny_model(settings)
    src = batch_of_sources()
    memory = model.encode(src, src != PAD)
    assert isinstance(memory, Memory) and torch.equal(memory.src_mask, src != PAD)


@pytest.mark.parametrize("settings", FAMILIES)
def test_output_projection_is_tied_to_the_embedding(settings):
    model = tiny_model(settings)
    embeddings = [module for module in model.modules() if isinstance(module, nn.Embedding)]
    assert len(embeddings) == 1  # one table, shared by source, target and output
    embedding = embeddings[0].weight
    assert model.output.weight is embedding
    assert sum(p is embedding for p in model.parameters()) == 1  # counted, and trained, once
    untied = sum(p.numel() for p in model.state_dict().values()) - embedding.numel()
    assert num_parameters(model) == untied
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(batch_of_sources(), targets()).sum().backward()
    optimizer.step()
    assert torch.equal(model.output.weight, embedding)


@pytest.mark.parametrize("settings", EVERY_ATTENTION)
def test_every_parameter_gets_a_gradient(settings):
    model = tiny_model(settings)
    model(batch_of_sources(), targets()).logsumexp(-1).sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


# --- what may and may not influence the logits -------------------------------------------------------------


@pytest.mark.parametrize("settings", FAMILIES)
def test_changing_a_future_target_token_never_changes_earlier_logits(settings):
    model = tiny_model(settings)
    src, tgt = batch_of_sources(), targets()
    changed = tgt.clone()
    changed[:, 3] = (changed[:, 3] + 1) % VOCAB
    with torch.no_grad():
        before, after = model(src, tgt), model(src, changed)
    assert (after[:, :3] - before[:, :3]).abs().max() <= TOL
    assert (after[:, 3:] - before[:, 3:]).abs().max() > 1e-3  # the test can see a change


@pytest.mark.parametrize("settings", EVERY_ATTENTION)
def test_padded_source_tokens_never_change_outputs(settings):
    model = tiny_model(settings)
    src, tgt = batch_of_sources(), targets()
    src_mask = src != PAD
    scribbled = src.masked_fill(~src_mask, VOCAB - 1)  # other tokens where the mask says "padding"
    with torch.no_grad():
        memory, memory_scribbled = model.encode(src, src_mask), model.encode(scribbled, src_mask)
        real = src_mask[:, :, None].expand_as(memory.states)
        assert (memory.states[real] - memory_scribbled.states[real]).abs().max() <= TOL
        real_targets = tgt != PAD  # logits at a target's padding are not meaningful
        assert (step_by_step(model, memory_scribbled, tgt) - model(src, tgt))[real_targets].abs().max() <= TOL


@pytest.mark.parametrize("settings", EVERY_ATTENTION)
def test_extra_padding_never_changes_logits(settings):
    model = tiny_model(settings)
    src, tgt = batch_of_sources(), targets()
    longer = torch.cat([src, torch.full((2, 3), PAD)], dim=1)  # (2, 8)
    with torch.no_grad():
        assert (model(longer, tgt) - model(src, tgt)).abs().max() <= TOL


# --- the cached step and the state ------------------------------------------------------------------------


@pytest.mark.parametrize("settings", FAMILIES)
def test_cached_decode_steps_reproduce_forward(settings):
    model = tiny_model(settings)
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad():
        expected = model(src, tgt)  # (2, 6, vocab)
        memory = model.encode(src, src != PAD)
        state = None
        for t in range(tgt.size(1)):
            logits, state = model.decode_step(tgt[:, t], memory, state)
            real = tgt[:, t] != PAD  # the rows whose target has not ended
            assert (logits - expected[:, t])[real].abs().max() <= TOL, f"step {t}"


@pytest.mark.parametrize("settings", FAMILIES)
def test_positions_give_the_same_logits_at_those_positions_only(settings):
    model = tiny_model(settings)
    src, tgt = batch_of_sources(), targets()
    real = tgt != PAD
    with torch.no_grad():
        every = model(src, tgt)  # (2, 6, vocab)
        chosen = model(src, tgt, positions=real)  # (8, vocab)
    assert chosen.shape == (int(real.sum()), VOCAB)
    assert (chosen - every[real]).abs().max() <= TOL


@pytest.mark.parametrize("settings", FAMILIES)
def test_a_target_gets_the_same_logits_alone_as_beside_longer_ones(settings):
    """The recurrent decoder sorts targets by length and stops running each at its end: a row's logits
    must not depend on where it lands in that order or on how long the others are."""
    model = tiny_model(settings)
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad():
        together = model(src, tgt)
        for row in range(2):
            length = int((tgt[row] != PAD).sum())
            alone = model(src[row : row + 1], tgt[row : row + 1, :length])  # (1, length, vocab), no padding
            assert (alone[0] - together[row, :length]).abs().max() <= TOL


@pytest.mark.parametrize("settings", FAMILIES)
def test_select_batch_reorders_hypotheses_in_memory_and_state(settings):
    """Decode two sources, swap them mid-sequence, and each keeps its own continuation."""
    model = tiny_model(settings)
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


@pytest.mark.parametrize("settings", FAMILIES)
def test_select_batch_can_repeat_a_hypothesis(settings):
    model = tiny_model(settings)
    src, tgt = batch_of_sources(), targets()
    repeat = torch.tensor([0, 0, 1])
    with torch.no_grad():
        memory = model.encode(src, src != PAD)
        _, state = model.decode_step(tgt[:, 0], memory)
        memory, state = select_batch(memory, repeat), select_batch(state, repeat)
        logits, state = model.decode_step(tgt[repeat, 1], memory, state)
        expected = model(src, tgt)[:, 1]
    assert_batch_first(memory, 3)
    assert_batch_first(state, 3)
    assert (logits - expected[repeat]).abs().max() <= TOL


class IdTokenizer:
    """What `generate` asks of a tokenizer: the special ids (the helpers' sources use 5 and above)."""
    pad_id, bos_id, unk_id, eos_id = PAD, 1, 2, 3


def likeliest_but_eos(logits: torch.Tensor) -> torch.Tensor:
    """(rows, vocab) → (rows,) the likeliest piece that is not EOS nor one `generate` never draws."""
    return forbid(logits, never_drawn(IdTokenizer()) + (IdTokenizer.eos_id,)).argmax(dim=-1)


def ending_one_row_a_step(logits: torch.Tensor) -> torch.Tensor:
    """A pick: the first running row ends (EOS), the others go on with `likeliest_but_eos`, so the batch
    shrinks by one row a step."""
    picked = likeliest_but_eos(logits)  # (running,)
    picked[0] = IdTokenizer.eos_id
    return picked


@pytest.mark.parametrize("settings", FAMILIES)
def test_rows_that_end_leave_the_batch_and_the_others_keep_their_own_state(settings):
    """generate decodes only the rows still running; each must go on from its own memory and state. Every
    step's logits, as `record` sees them, must equal teacher forcing's for that row's source and prefix."""
    model = tiny_model(settings)
    src = torch.randint(5, VOCAB, (4, 6))
    src[2, 4:] = PAD
    seen = {row: [] for row in range(4)}  # row → the logits of each of its steps
    decoded = []  # rows decoded at each step

    def record(logits, next_ids, running):
        decoded.append(len(running))
        for place, row in enumerate(running.tolist()):
            seen[row].append(logits[place])

    with torch.no_grad():
        outputs = generate(model, model.encode(src, src != PAD), IdTokenizer(), 8, ending_one_row_a_step,
                           record)
        assert [len(ids) for ids in outputs] == [0, 1, 2, 3]  # row r ended at step r + 1
        assert decoded == [4, 3, 2, 1]
        for row, ids in enumerate(outputs):
            tgt_in = torch.tensor([[IdTokenizer.bos_id] + ids])  # (1, r + 1)
            forced = model(src[row : row + 1], tgt_in)[0]  # (r + 1, vocab)
            forced = forbid(forced, never_drawn(IdTokenizer()))  # as generate shows them
            torch.testing.assert_close(torch.stack(seen[row]), forced, rtol=0, atol=TOL)  # -inf equals -inf


@pytest.mark.parametrize("settings", FAMILIES)
def test_drawing_without_replacement_branches_each_hypothesis_from_its_own_state(settings):
    """sample_distinct copies a parent's decoder state to each child it keeps and drops the rest; a child
    continued from the wrong state would get a log p that teacher forcing does not give its pieces."""
    model = tiny_model(settings)
    src = torch.randint(5, VOCAB, (4, 6))
    src[1, 3:] = PAD
    checked = []  # lengths of the finished outputs compared
    with torch.no_grad():
        # temperature 3: a flat draw, so that an untrained model's outputs reach EOS within 10 pieces
        drawn = sample_distinct(model, model.encode(src, src != PAD), IdTokenizer(), 8, 10, 3.0, 0, 1.0,
                                torch.Generator().manual_seed(0))
        for row, outputs in enumerate(drawn):
            finished = [(ids, log_p) for ids, log_p in outputs if ids is not None]
            assert len(outputs) == 8 and len({tuple(ids) for ids, _ in finished}) == len(finished)
            one_source = torch.zeros(len(finished), dtype=torch.long)
            forced = sequence_log_probs(model, IdTokenizer(), src[row : row + 1], one_source,
                                        [ids for ids, _ in finished])
            assert forced.tolist() == pytest.approx([log_p for _, log_p in finished], abs=TOL)
            checked += [len(ids) for ids, _ in finished]
    assert len(checked) >= 6 and max(checked) >= 4  # the check did compare outputs of several steps


# --- settings, modes, saving -------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", FAMILIES)
def test_a_bf16_output_layer_rounds_the_logits_a_little_and_only_within_its_block(settings):
    """decoding.output_precision: inside the block, decode_step's output layer runs in bf16 for steps of at
    least 64 rows (padded to a multiple of 64, then cut back) and gives float32 logits near the exact ones;
    fewer rows stay exact. After the block, and after an error inside one, the model is exact again.
    Teacher forcing never changes."""
    model = tiny_model(settings)
    src, tgt = batch_of_sources().repeat(35, 1), targets().repeat(35, 1)  # at least 64 rows, not a multiple
    assert src.size(0) >= 64 and src.size(0) % 64
    memory = model.encode(src, src != PAD)
    exact, forced = step_by_step(model, memory, tgt), model(src, tgt)
    few = select_batch(memory, torch.arange(10))
    with output_precision(model, torch.bfloat16):
        rounded = step_by_step(model, memory, tgt)  # (batch, tgt_len, vocab)
        torch.testing.assert_close(model(src, tgt), forced, rtol=0, atol=0)
        torch.testing.assert_close(step_by_step(model, few, tgt[:10]), exact[:10], rtol=0, atol=TOL)
    assert rounded.dtype == torch.float32 and rounded.shape == exact.shape
    assert 0 < (rounded - exact).abs().max() < 0.02 * exact.abs().max()
    with pytest.raises(RuntimeError, match="inside"):
        with output_precision(model, torch.bfloat16):
            raise RuntimeError("an error inside the block")
    torch.testing.assert_close(step_by_step(model, memory, tgt), exact, rtol=0, atol=0)


@pytest.mark.parametrize("settings", FAMILIES)
def test_too_long_source_gives_a_clear_error(settings):
    model = tiny_model(settings, max_len=4)
    with pytest.raises(ValueError, match=r"5 pieces is longer than max_len=4"):
        model(batch_of_sources(), targets()[:, :3])


@pytest.mark.parametrize("settings", FAMILIES)
def test_dropout_acts_only_in_training(settings):
    model = tiny_model(settings, dropout=0.5)
    src, tgt = batch_of_sources(), targets()
    model.train()
    assert not torch.equal(model(src, tgt), model(src, tgt))
    model.eval()
    assert torch.equal(model(src, tgt), model(src, tgt))


@pytest.mark.parametrize("settings", FAMILIES)
def test_runs_under_cpu_bf16_autocast(settings):
    model = tiny_model(settings)
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(src, tgt)
        step_logits, _ = model.decode_step(tgt[:, 0], model.encode(src, src != PAD))
    with torch.no_grad():
        full_precision = model(src, tgt)
    assert torch.isfinite(logits).all() and torch.isfinite(step_logits).all()
    assert (step_logits.float() - logits[:, 0].float()).abs().max() < 0.1  # bf16 keeps ~3 digits
    assert (logits.float() - full_precision).abs().max() < 0.1


@pytest.mark.parametrize("settings", [FAMILIES[0], family("gru-general", arch="gru", attention="general"),
                                      family("lstm-general", arch="lstm", attention="general")])
def test_state_dict_round_trip_rebuilds_the_same_model(settings):
    model = tiny_model(settings)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    rebuilt = build_model(tiny_config(settings))
    rebuilt.load_state_dict(torch.load(buffer, weights_only=True))
    rebuilt.eval()
    src, tgt = batch_of_sources(), targets()
    with torch.no_grad():
        assert torch.equal(rebuilt(src, tgt), model(src, tgt))
