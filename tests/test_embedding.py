"""The ONNX model gives the same vectors as the reference PyTorch model, and as the export
used before the model cache (pooling and normalisation inside the ONNX graph).  Needs torch:
the bundled-model extra."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from assistant.embedding import MiniLMEmbedding, model_dir  # noqa: E402

TEXTS = [
    "short",
    "a somewhat longer sentence about vision-language models and hallucination",
    "word " * 400,  # truncated at 256 tokens
]


def _reference(texts):
    tok = transformers.AutoTokenizer.from_pretrained(str(model_dir()))
    model = transformers.AutoModel.from_pretrained(str(model_dir())).eval()
    enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    v = (h * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(v, dim=-1).numpy()


def test_onnx_matches_pytorch_with_padding_and_truncation(model_cache):
    emb = MiniLMEmbedding(model_cache)
    got = emb.embed(TEXTS)
    assert got.shape == (3, 384)
    np.testing.assert_allclose(got, _reference(TEXTS), atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # query path (cached) agrees with the batch path
    np.testing.assert_allclose(emb.embed_query(TEXTS[1]), got[1], atol=1e-6)
    assert emb.embed([]).shape == (0, 384)


def _pooled_export(target):
    """The export before the model cache: transformer + mean pooling + normalise, in one graph."""
    model = transformers.AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            return torch.nn.functional.normalize((h * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)

    ids = torch.ones(2, 16, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        torch.onnx.export(
            Pooled(model),
            (ids, ids, torch.zeros_like(ids)),
            str(target),
            dynamo=False,
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={**{n: {0: "b", 1: "s"} for n in names}, "embedding": {0: "b"}},
            opset_version=17,
        )


def test_the_vectors_are_those_of_the_export_used_before(model_cache, tmp_path):
    import onnxruntime as ort

    _pooled_export(tmp_path / "before.onnx")
    emb = MiniLMEmbedding(model_cache)
    runner = emb.runner()
    session = ort.InferenceSession(str(tmp_path / "before.onnx"), providers=["CPUExecutionProvider"])
    for text in TEXTS:  # one at a time, as the old export ran a query
        enc = runner.tokenizer.encode_batch([text])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        before = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        np.testing.assert_allclose(emb.embed([text])[0], before[0][0], atol=1e-6)
