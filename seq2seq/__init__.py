"""seq2seq-ja: hand-written Transformer and GRU/LSTM encoder-decoders that generate near-miss Japanese.

    from seq2seq import load_model
    load_model("runs/default").distractors("borrow", n=5)   # see seq2seq/api.py
"""
from seq2seq.api import DistractorModel, load_model
from seq2seq.decoding import Distractor

__all__ = ["Distractor", "DistractorModel", "load_model"]
