"""The one interface every model family implements.

Training, decoding and evaluation talk to a model only through these three methods, so they never ask
whether they hold a Transformer or a recurrent network:

    memory = model.encode(src_ids, src_mask)                   # read the source once
    logits, state = model.decode_step(prev_ids, memory, state)  # one target token at a time, cached
    logits = model(src_ids, tgt_in_ids, src_index)              # all target positions at once (training)

Convention that lets one decoding loop serve every family: every tensor inside a `Memory` and inside a
decoder `state` keeps the batch in dimension 0. Beam search and sampling can then repeat or reorder whole
hypotheses with `select_batch`, without knowing what the tensors mean.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, Callable

import torch
from torch import nn


@dataclass
class Memory:
    """What the encoder hands to the decoder."""

    states: torch.Tensor  # (batch, src_len, d_model) one vector per source token
    src_mask: torch.Tensor  # (batch, src_len) True where the token is real, False at padding


def select_batch(tree: Any, indices: torch.Tensor) -> Any:
    """Pick rows `indices` (along dim 0) from every tensor in a Memory, state, tuple, list or dict.

    `indices` may repeat rows (one source → many samples) or reorder them (beam search).
    """
    return map_tensors(tree, lambda tensor: tensor.index_select(0, indices))


def first_rows(tree: Any, n: int) -> Any:
    """The first `n` rows of every tensor in a Memory, state, tuple, list or dict (views, no copies)."""
    return map_tensors(tree, lambda tensor: tensor[:n])


def map_tensors(tree: Any, change: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """The same structure with `change` applied to every tensor in it; None and plain numbers stay."""
    if isinstance(tree, torch.Tensor):
        return change(tree)
    if is_dataclass(tree):
        return replace(tree, **{f.name: map_tensors(getattr(tree, f.name), change) for f in fields(tree)})
    if isinstance(tree, (list, tuple)):
        return type(tree)(map_tensors(item, change) for item in tree)
    if isinstance(tree, dict):
        return {key: map_tensors(value, change) for key, value in tree.items()}
    return tree  # None, or plain numbers (e.g. a step counter) shared by every row


# bf16 output layer (`Seq2SeqModel.output_logits`): rows rounded up to a multiple of this; a step with fewer
# rows stays in float32, which is as fast for so few
OUTPUT_ROW_MULTIPLE = 64


class Seq2SeqModel(nn.Module):
    """Base class: an encoder-decoder over one shared vocabulary."""

    # The precision of the output layer in `decode_step`: float32, or bfloat16 while
    # `decoding.output_precision` says so. Training and teacher-forced scoring (`forward`) never change.
    output_dtype: torch.dtype = torch.float32

    # Parameters renamed since model folders were first saved: {old name: new name}, so that weights
    # saved under an old name still load (tests/test_old_folders.py).
    renamed_parameters: dict[str, str] = {}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """nn.Module's, also taking weights saved under the old names of `renamed_parameters`."""
        state_dict = {self.renamed_parameters.get(name, name): value for name, value in state_dict.items()}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def encode(self, src_ids: torch.Tensor, src_mask: torch.Tensor) -> Memory:
        """src_ids (batch, src_len) → Memory. src_mask is True at real tokens."""
        raise NotImplementedError

    def decode_step(
        self, prev_ids: torch.Tensor, memory: Memory, state: Any = None
    ) -> tuple[torch.Tensor, Any]:
        """prev_ids (batch,) the last token of each hypothesis → logits (batch, vocab), new state.

        state=None starts a new sequence (prev_ids is then normally BOS).
        """
        raise NotImplementedError

    def output_logits(self, top: torch.Tensor) -> torch.Tensor:
        """The output layer of one decoding step: top (batch, d_model) → logits (batch, vocab), float32.

        Why bf16 (`output_dtype`): a step's largest matrix product is this one, over the whole vocabulary
        (1.4 s of 5 s when sampling 10 for each of 1,000 words), and a CPU that computes bf16 natively does
        it 3× faster. A logit moves by about 0.01; the products still add up in float32.
        Why the rows are padded: oneDNN builds and keeps a kernel for each new matrix shape, and the number
        of live hypotheses changes at every step; rounded up to a multiple of 64, the shapes stay few, and so
        does the memory they hold. Fewer than 64 rows (one word's beam) gain nothing from bf16 and would be
        padded: they stay in float32.
        """
        rows = top.size(0)
        if self.output_dtype == torch.float32 or rows < OUTPUT_ROW_MULTIPLE:
            return self.output(top)
        padded = nn.functional.pad(top, (0, 0, 0, -rows % OUTPUT_ROW_MULTIPLE))  # (rows rounded up, d_model)
        weight = self.output.weight.to(self.output_dtype)  # (vocab, d_model)
        bias = None if self.output.bias is None else self.output.bias.to(self.output_dtype)
        logits = nn.functional.linear(padded.to(self.output_dtype), weight, bias)  # (rows rounded up, vocab)
        return logits[:rows].float()  # (batch, vocab)

    def forward(self, src_ids: torch.Tensor, tgt_in_ids: torch.Tensor, src_index: torch.Tensor | None = None,
                positions: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: tgt_in_ids (batch, tgt_len) → logits (batch, tgt_len, vocab).

        src_ids is (batch, src_len), one source per target; or, with src_index (batch,), (sources, src_len)
        holding each distinct source once, and src_index says which one each target reads.

        positions (batch, tgt_len), optional, True where logits are wanted: the result is then
        (positions.sum(), vocab), those positions' logits in row-major order. Training and scoring ask for
        the real target tokens only: the output layer over the whole vocabulary is the largest single cost
        of a step (~30% here), and logits at padding would only be thrown away. Without `positions`,
        logits at padding are not meaningful (a recurrent decoder does not run there).
        """
        # (batch, tgt_len, d)
        outputs = self.decoder_outputs(tgt_in_ids, self.encode_for_targets(src_ids, src_index))
        if positions is not None:
            outputs = outputs[positions]  # (n_positions, d_model)
        return self.output(outputs)

    def decoder_outputs(self, tgt_in_ids: torch.Tensor, memory: Memory) -> torch.Tensor:
        """The decoder's top vectors under teacher forcing, before the output layer: tgt_in_ids
        (batch, tgt_len) → (batch, tgt_len, d_model). `self.output` turns them into logits."""
        raise NotImplementedError

    def encode_for_targets(self, src_ids: torch.Tensor, src_index: torch.Tensor | None) -> Memory:
        """Encode each distinct source once, then hand every target the memory of its own source."""
        memory = self.encode(src_ids, src_ids != self.config.pad_id)  # (sources, src_len, d_model) states
        return memory if src_index is None else select_batch(memory, src_index)  # (batch, src_len, d_model)
