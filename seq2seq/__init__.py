"""seq2seq-ja: hand-written Transformer and GRU/LSTM encoder-decoders that generate near-miss Japanese.

    from seq2seq import load_model
    load_model("runs/default").distractors("borrow", n=5)   # see seq2seq/api.py
"""
from __future__ import annotations

import importlib

__all__ = ["Distractor", "DistractorModel", "load_model"]
_HOME = {"Distractor": "seq2seq.decoding", "DistractorModel": "seq2seq.api", "load_model": "seq2seq.api"}


def __getattr__(name: str):
    """The public names, imported when first asked for. Why lazily: the tokenizer package imports
    seq2seq.errors, and an eager import of the whole package from here would import the tokenizer back
    while it is still half-initialised (`python -m tokenizer` failed so)."""
    if name not in _HOME:
        raise AttributeError(f"module 'seq2seq' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
