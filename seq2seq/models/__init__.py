"""The model families. Each one implements the interface in `base.Seq2SeqModel`."""
from seq2seq.config import ModelConfig
from seq2seq.errors import UserError
from seq2seq.models.base import Seq2SeqModel
from seq2seq.models.rnn import RecurrentSeq2Seq
from seq2seq.models.transformer import Transformer

FAMILIES = {"transformer": Transformer, "gru": RecurrentSeq2Seq, "lstm": RecurrentSeq2Seq}


def build_model(config: ModelConfig) -> Seq2SeqModel:
    """The model named by `config.arch`, freshly initialised; settings it cannot be built from are a
    UserError (a one-line message on the command line), not a traceback."""
    if config.arch not in FAMILIES:
        raise UserError(f"unknown model arch '{config.arch}'; choose one of: {', '.join(FAMILIES)}")
    try:
        return FAMILIES[config.arch](config)
    except ValueError as err:
        raise UserError(f"model settings: {err}") from None


def num_parameters(model: Seq2SeqModel) -> int:
    """Trainable parameters, counting tied weights once (model.parameters() yields each tensor once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
