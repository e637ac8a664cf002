"""A SentencePiece vocabulary trained on the user's own corpus, shared by English and Japanese."""
from tokenizer.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, TokenizerError, train_tokenizer

__all__ = ["BOS_ID", "EOS_ID", "PAD_ID", "UNK_ID", "Tokenizer", "TokenizerError", "train_tokenizer"]
