"""Building the bundled corpus from JMdict: entries → correct answers → near-miss distractors → files.

The command is data/build_corpus.py; these modules hold the rules, each testable on a tiny fixture
without the JMdict database or the embedding model.
"""
