"""The ONNX export gives the same vectors as the reference PyTorch model."""

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from assistant.embedding import MiniLMEmbedding, model_dir


def _reference(texts):
    tok = AutoTokenizer.from_pretrained(str(model_dir()))
    model = AutoModel.from_pretrained(str(model_dir())).eval()
    enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    v = (h * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(v, dim=-1).numpy()


def test_onnx_matches_pytorch_with_padding_and_truncation(model_cache):
    texts = [
        "short",
        "a somewhat longer sentence about vision-language models and hallucination",
        "word " * 400,
    ]  # the last one is truncated at 256 tokens
    emb = MiniLMEmbedding(model_cache)
    got = emb.embed(texts)
    assert got.shape == (3, 384)
    np.testing.assert_allclose(got, _reference(texts), atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # query path (cached) agrees with the batch path
    np.testing.assert_allclose(emb.embed_query(texts[1]), got[1], atol=1e-6)
    assert emb.embed([]).shape == (0, 384)
