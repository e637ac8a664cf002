import math

import pytest
import torch

from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.errors import UserError
from seq2seq.models import build_model
from seq2seq.schedule import shape_factor
from seq2seq.trainer import choose_precision, make_optimizer, sequence_loss
from tests.helpers import overfit


def test_warmup_rises_linearly_then_decays_as_inverse_sqrt():
    factor = [shape_factor("inverse_sqrt", done, warmup_steps=4, total_steps=100) for done in range(16)]
    assert factor[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factor[15] == pytest.approx(math.sqrt(4 / 16))  # step 16 → 1/2


def test_loss_ignores_padding_and_matches_the_formula():
    logits = torch.randn(2, 3, 5)
    targets = torch.tensor([[4, 2, 0], [1, 0, 0]])  # 0 is padding
    log_probs = logits.log_softmax(-1)
    expected = -(log_probs[0, 0, 4] + log_probs[0, 1, 2] + log_probs[1, 0, 1]) / 3
    assert sequence_loss(logits, targets, pad_id=0).item() == pytest.approx(expected.item(), abs=1e-6)
    # label smoothing ε: (1-ε)·NLL + ε·mean over the vocabulary of -log p
    eps = 0.1
    smooth = -log_probs.mean(-1)
    expected_smoothed = ((1 - eps) * -torch.stack([log_probs[0, 0, 4], log_probs[0, 1, 2], log_probs[1, 0, 1]])
                         + eps * torch.stack([smooth[0, 0], smooth[0, 1], smooth[1, 0]])).mean()
    assert sequence_loss(logits, targets, 0, eps).item() == pytest.approx(expected_smoothed.item(), abs=1e-6)


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
    assert choose_precision("auto", cpu) in (torch.bfloat16, torch.float32)
    with pytest.raises(UserError, match="fp16 needs a CUDA GPU"):
        choose_precision("fp16", cpu)


TRANSFORMER = dict(d_model=64, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, d_ff=128)


def test_tiny_transformer_overfits_thirty_pairs():
    run = overfit(TRANSFORMER, epochs=60, lr=3e-3)
    assert run.loss_before > 4.0
    assert run.result.valid_loss < 0.1  # nats per token on the training pairs themselves
    assert run.greedy_exact_rate() >= 0.9


def test_bf16_autocast_on_cpu_lowers_the_loss():
    run = overfit(TRANSFORMER, epochs=8, lr=3e-3, dtype=torch.bfloat16)
    assert run.result.valid_loss < run.loss_before - 1.0
