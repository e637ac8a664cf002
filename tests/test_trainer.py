import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from seq2seq.batching import Example, collate, make_batches
from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.errors import UserError
from seq2seq.models import build_model
from seq2seq.run_log import best_row
from seq2seq.schedule import shape_factor
from seq2seq.trainer import Trainer, choose_precision, improves, make_optimizer, token_loss
from tests.helpers import PAD, overfit


def test_warmup_rises_linearly_then_decays_as_inverse_sqrt():
    factor = [shape_factor("inverse_sqrt", done, warmup_steps=4, total_steps=100) for done in range(16)]
    assert factor[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factor[15] == pytest.approx(math.sqrt(4 / 16))  # step 16 → 1/2


def test_loss_matches_the_formula():
    logits = torch.randn(3, 5)  # (real tokens, vocab): the model gives the real target positions only
    targets = torch.tensor([4, 2, 1])
    log_probs = logits.log_softmax(-1)
    picked = torch.stack([log_probs[0, 4], log_probs[1, 2], log_probs[2, 1]])
    assert token_loss(logits, targets).item() == pytest.approx(-picked.mean().item(), abs=1e-6)
    # label smoothing ε: (1-ε)·NLL + ε·mean over the vocabulary of -log p
    eps = 0.1
    expected_smoothed = ((1 - eps) * -picked + eps * -log_probs.mean(-1)).mean()
    assert token_loss(logits, targets, eps).item() == pytest.approx(expected_smoothed.item(), abs=1e-6)


@pytest.mark.parametrize("arch", ["transformer", "gru"])
def test_weight_decay_skips_biases_norms_and_embeddings(arch):
    model = build_model(ModelConfig(arch=arch, vocab_size=50, d_model=16, n_heads=2, n_encoder_layers=1,
                                    n_decoder_layers=1, d_ff=32))
    optimizer = make_optimizer(model, TrainConfig(weight_decay=0.1))
    decayed = {id(p) for p in optimizer.param_groups[0]["params"]}
    embedding = next(m for m in model.modules() if isinstance(m, torch.nn.Embedding)).weight
    assert id(embedding) not in decayed  # the shared (tied) embedding
    for name, param in model.named_parameters():
        if name.endswith("bias") or "norm" in name:
            assert id(param) not in decayed, name
    assert any(param.dim() == 2 for param in optimizer.param_groups[0]["params"])
    assert optimizer.param_groups[1]["weight_decay"] == 0.0
    n_params = sum(len(group["params"]) for group in optimizer.param_groups)
    assert n_params == len(list(model.parameters()))


def test_precision_choices():
    cpu = torch.device("cpu")
    assert choose_precision("fp32", cpu) == torch.float32
    assert choose_precision("bf16", cpu) == torch.bfloat16
    assert choose_precision("auto", cpu) == torch.float32  # faster and lighter than bf16 autocast on a CPU
    with pytest.raises(UserError, match="fp16 needs a CUDA GPU"):
        choose_precision("fp16", cpu)


TRANSFORMER = dict(arch="transformer", d_model=64, n_heads=4, n_encoder_layers=2, n_decoder_layers=2,
                   d_ff=128)


def test_tiny_transformer_overfits_thirty_pairs():
    run = overfit(TRANSFORMER, epochs=60, lr=3e-3)
    assert run.loss_before > 4.0
    assert run.result.valid_loss < 0.1  # nats per token on the training pairs themselves
    assert run.greedy_exact_rate() >= 0.9


def test_bf16_autocast_on_cpu_lowers_the_loss():
    run = overfit(TRANSFORMER, epochs=8, lr=3e-3, dtype=torch.bfloat16)
    assert run.result.valid_loss < run.loss_before - 1.0


def tiny_trainer(arch: str = "transformer", dropout: float = 0.0, **train) -> Trainer:
    """A tiny fresh model (seed 0) and its trainer on the CPU, in fp32."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, vocab_size=40, d_model=16, n_heads=2, n_encoder_layers=1,
                                    n_decoder_layers=1, d_ff=32, dropout=dropout))
    config = TrainConfig(**{"warmup_steps": 1, "weight_decay": 0.1, **train})
    return Trainer(model, config, PAD, torch.device("cpu"), torch.float32, progress=False)


def random_examples(count: int, seed: int = 0) -> list[Example]:
    """Pairs of ids 4…39 (0-3 are special) of mixed lengths, so batches need padding."""
    rng = np.random.default_rng(seed)
    return [Example(list(rng.integers(4, 40, rng.integers(1, 6))) + [3],
                    list(rng.integers(4, 40, rng.integers(1, 7))))
            for _ in range(count)]


IDS = SimpleNamespace(bos_id=2, eos_id=3, pad_id=PAD)  # what collate asks of a tokenizer
EOS = IDS.eos_id


@pytest.mark.parametrize("arch", ["transformer", "gru"])
def test_accumulating_two_batches_of_b_equals_one_batch_of_2b(arch):
    examples = random_examples(16)
    whole, halves = tiny_trainer(arch), tiny_trainer(arch)
    whole.train_step([collate(examples, IDS)])
    halves.train_step([collate(examples[:8], IDS), collate(examples[8:], IDS)])  # each half padded on its own
    # The gradients the optimizer stepped with. (Not the new weights: a bias whose true gradient is 0,
    # like attention's key bias, gets an Adam step of ±lr from rounding noise alone.)
    for (name, a), b in zip(whole.model.named_parameters(), halves.model.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)
    untrained = tiny_trainer(arch).model
    # it did step
    assert any(not torch.equal(a, b) for a, b in zip(whole.model.parameters(), untrained.parameters()))


def test_clipping_sees_the_true_gradients_under_a_gradient_scaler():
    """fp16 multiplies the loss by a large scale so that small gradients survive; the step must divide it out
    (scaler.unscale_) before clipping, or clipping cuts the scaled norm and the step shrinks by the scale.
    fp16 needs a GPU, so a scaler is switched on here in fp32, where scaling by 2¹⁶ and back is exact:
    the gradients the optimizer steps with must be those of a run without it."""
    examples = random_examples(8)
    plain, scaled = tiny_trainer(clip_norm=0.1), tiny_trainer(clip_norm=0.1)
    scaled.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    for trainer in (plain, scaled):
        trainer.train_step([collate(examples, IDS)])
    for (name, a), b in zip(plain.model.named_parameters(), scaled.model.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-8, msg=name)


def test_a_step_of_accumulated_batches_is_the_token_weighted_mean():
    """Batches of different sizes weigh by their target tokens, not equally: the step's loss is that of
    one batch holding them all."""
    examples = random_examples(12, seed=3)
    trainer = tiny_trainer()
    loss_sum, tokens = trainer.train_step([collate(examples[:2], IDS), collate(examples[2:], IDS)])
    fresh = tiny_trainer()
    with torch.no_grad():
        whole = collate(examples, IDS)
        real = whole.tgt_out != PAD  # the loss of the real target tokens, from logits at every position
        logits = fresh.model(whole.src, whole.tgt_in, whole.src_index)[real]  # (real tokens, vocab)
        expected = token_loss(logits, whole.tgt_out[real], reduction="sum").item()
    assert tokens == whole.n_target_tokens
    assert loss_sum == pytest.approx(expected, rel=1e-5)


def test_early_stopping_stops_after_patience_validations_without_improvement():
    examples = random_examples(8)
    trainer = tiny_trainer(epochs=20, patience=2, lr=0.0)  # lr 0: the validation loss never improves
    batches = [collate(examples, IDS)]
    result = trainer.fit(lambda epoch: batches, batches)
    # best, then 2 without
    assert (result.status, result.epochs, result.best_epoch) == ("stopped early", 3, 1)


def test_without_patience_every_epoch_runs():
    examples = random_examples(8)
    batches = [collate(examples, IDS)]
    result = tiny_trainer(epochs=4, lr=0.0).fit(lambda epoch: batches, batches)
    assert (result.status, result.epochs) == ("finished", 4)


def test_the_time_budget_stops_after_the_step_that_spends_it_and_validates_first():
    batches = [collate(random_examples(4, seed), IDS) for seed in range(3)]  # 3 steps an epoch
    tight = tiny_trainer(epochs=5, time_budget_minutes=1e-6).fit(lambda epoch: batches, batches[:1])
    assert (tight.status, tight.epochs, tight.step) == ("time budget", 0, 1)  # no whole epoch, one step
    assert tight.best_epoch == 1 and math.isfinite(tight.valid_loss)  # validated before stopping
    roomy = tiny_trainer(epochs=3, time_budget_minutes=60.0).fit(lambda epoch: batches, batches[:1])
    unlimited = tiny_trainer(epochs=3, time_budget_minutes=0.0).fit(lambda epoch: batches, batches[:1])
    assert (roomy.status, roomy.epochs) == (unlimited.status, unlimited.epochs) == ("finished", 3)


def test_the_chosen_metric_has_its_direction():
    assert improves("valid_loss", 1.0, 2.0) and not improves("valid_loss", 2.0, 2.0)
    assert improves("valid_acc", 0.6, 0.5) and not improves("valid_acc", 0.4, 0.5)
    assert improves("valid_acc", 0.1, None) and improves("valid_loss", math.nan, 1.0)  # no validation split


def test_validation_accuracy_counts_real_tokens_ranked_first():
    examples = random_examples(6)
    trainer = tiny_trainer()
    batch = collate(examples, IDS)
    with torch.no_grad():
        logits = trainer.model(batch.src, batch.tgt_in, batch.src_index)
    real = batch.tgt_out != PAD
    expected = ((logits.argmax(-1) == batch.tgt_out) & real).sum().item() / real.sum().item()
    scores = trainer.validate([batch])
    assert scores["valid_acc"] == pytest.approx(expected)
    assert scores["valid_ppl"] == pytest.approx(math.exp(scores["valid_loss"]))


def test_schedule_shapes():
    cosine = [shape_factor("cosine", done, warmup_steps=2, total_steps=12) for done in range(14)]
    assert cosine[:2] == pytest.approx([0.5, 1.0])  # warm-up
    # step 7: halfway from the end of warm-up (2) to the last step (12)
    assert cosine[6] == pytest.approx(0.5)
    assert cosine[11] == pytest.approx(0.0, abs=1e-12) and cosine[13] == 0.0  # the end, and after it
    assert all(a >= b for a, b in zip(cosine[1:], cosine[2:]))
    assert [shape_factor("constant", done, 4, 0) for done in (0, 3, 100)] == [0.25, 1.0, 1.0]


def test_plateau_multiplies_the_rate_after_patience_stalled_validations():
    trainer = tiny_trainer(schedule="plateau", lr=1.0, warmup_steps=1, plateau_patience=2, plateau_factor=0.5)
    schedule = trainer.schedule
    rates = []
    for improved in (True, False, False, False, True, False, False):
        schedule.after_validation(improved)
        rates.append(schedule.before_step(10))
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]


def test_bad_training_settings_are_refused_by_name():
    with pytest.raises(UserError, match="'accum' must be at least 1, got 0"):
        tiny_trainer(accum=0)
    with pytest.raises(UserError, match="'metric' is 'bleu'"):
        tiny_trainer(metric="bleu")
    with pytest.raises(UserError, match="schedule 'linear' is not known"):
        tiny_trainer(schedule="linear")


def test_token_batches_hold_at_most_max_tokens_and_every_pair_once():
    examples = random_examples(200, seed=5)
    batches = make_batches(examples, IDS, batch_size=1, rng=np.random.default_rng(0), max_tokens=40)
    assert sum(b.tgt_in.shape[0] for b in batches) == 200
    for batch in batches:
        assert batch.tgt_in.shape[0] * max(batch.src.shape[1], batch.tgt_in.shape[1]) <= 40
    seen = sorted(tuple(row[row != PAD].tolist()) for b in batches for row in b.pair_src)
    assert seen == sorted(tuple(ex.src) for ex in examples)
    assert len({b.tgt_in.shape[0] for b in batches}) > 1  # short pairs share a batch with more of their kind


def test_a_batch_stores_each_source_once_and_every_pair_finds_its_own():
    shared, other = [5, 6, EOS], [7, EOS]
    examples = [Example(shared, [8]), Example(other, [9, 10]), Example(shared, [11])]
    batch = collate(examples, IDS)
    assert batch.src.tolist() == [shared, other + [PAD]]
    assert batch.src_index.tolist() == [0, 1, 0]
    assert [row[row != PAD].tolist() for row in batch.pair_src] == [ex.src for ex in examples]


def test_the_pairs_of_one_source_share_a_batch():
    """Five targets per source, as in the bundled corpus: each source lands in one batch, not five."""
    sources = [[4 + i, EOS] for i in range(40)]
    examples = [Example(source, [50 + k]) for source in sources for k in range(5)]
    batches = make_batches(examples, IDS, batch_size=25, rng=np.random.default_rng(1))
    assert sum(b.src.shape[0] for b in batches) == 40  # every source encoded once
    assert sum(b.tgt_in.shape[0] for b in batches) == 200


@pytest.mark.parametrize("arch", ["transformer", "gru"])
def test_encoding_a_shared_source_once_gives_the_logits_of_repeating_it(arch):
    examples = random_examples(6, seed=4)
    examples += [Example(ex.src, ex.tgt[::-1]) for ex in examples]  # every source twice
    batch = collate(examples, IDS)
    assert batch.src.shape[0] == 6
    model = tiny_trainer(arch).model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(batch.src, batch.tgt_in, batch.src_index),
                                   model(batch.pair_src, batch.tgt_in))


def test_best_row_is_the_epoch_model_pt_holds():
    """The trainer keeps weights only on a strict improvement, so of equal values the first is best."""
    metrics = pd.DataFrame({"epoch": [1, 2, 3, 4], "valid_loss": [3.0, 2.0, 2.0, 2.5],
                            "valid_acc": [0.1, 0.3, 0.4, 0.4]})
    assert best_row(metrics, "valid_loss")["epoch"] == 2
    assert best_row(metrics, "valid_acc")["epoch"] == 3
    no_validation = metrics.assign(valid_loss=math.nan)
    assert best_row(no_validation, "valid_loss")["epoch"] == 4  # every epoch was kept: the last one
