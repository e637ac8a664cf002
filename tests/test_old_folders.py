"""Model folders saved by earlier versions still load, to the very same outputs.

tests/fixtures/gru_folder_before_renames was written by train.py (a tiny GRU, d_model 16, 2 + 2 layers,
40 epochs on tests/conftest.PAIRS) before the recurrent model's parameters were renamed to the
Transformer's names (`embedding.weight` became `embed.weight`); expected.json holds what it computed then.
"""
import json
from pathlib import Path

import torch

from seq2seq.decoding import encode_sources, generate, greedy_pick
from seq2seq.model_folder import load_model

OLD_GRU = Path(__file__).resolve().parent / "fixtures" / "gru_folder_before_renames"


def test_a_gru_folder_saved_before_the_renames_loads_to_the_same_outputs():
    expected = json.loads((OLD_GRU / "expected.json").read_text(encoding="utf-8"))
    assert "embedding.weight" in torch.load(OLD_GRU / "model.pt", weights_only=True)  # the old name
    trained = load_model(OLD_GRU)
    with torch.no_grad():
        memory = encode_sources(trained.model, trained.tokenizer, expected["sources"])
        logits, _ = trained.model.decode_step(torch.full((2,), trained.tokenizer.bos_id), memory)
        outputs = generate(trained.model, memory, trained.tokenizer, 10, greedy_pick())
    torch.testing.assert_close(logits[:, :12], torch.tensor(expected["first_step_logits"]), atol=2e-5, rtol=0)
    assert [trained.tokenizer.decode(ids) for ids in outputs] == expected["greedy"]
