"""seq2seq-ja: hand-written Transformer and GRU/LSTM encoder-decoders that generate near-miss Japanese."""
