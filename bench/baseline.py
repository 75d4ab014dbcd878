"""The baseline: what users write today without this library.

Hugging Face ``DebertaV2Model`` in PyTorch inside an iterator pandas UDF, with the Hugging Face
tokenizer, batches of ``batch_size`` sentences padded to the longest, truncated at
``max_length``, one vector per piece. The model is cached per Python worker (a module global, as
users do with ``--py-files``), and torch gets the task's cores, the best setting for it (its
default of every core per worker oversubscribes the machine when several tasks run at once).
With ``sort_by_length`` it is what a careful user writes: each Arrow batch's sentences are
tokenized once, run in batches of similar length (little padding), and put back in order.

This lives in an importable module, not in ``bench/run.py``, so that the cache survives from task
to task in a reused worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from pyspark.sql import functions as F

_MODELS: dict[str, tuple[Any, Any]] = {}


def _model(checkpoint: str) -> tuple[Any, Any]:
    if checkpoint not in _MODELS:
        import torch
        from pyspark import TaskContext
        from transformers import AutoTokenizer, DebertaV2Model

        context = TaskContext.get()
        torch.set_num_threads(int(context.cpus()) if context is not None else 1)
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        model = DebertaV2Model.from_pretrained(checkpoint).eval()
        _MODELS[checkpoint] = (tokenizer, model)
    return _MODELS[checkpoint]


def embed_sentences(
    checkpoint: str, batch_size: int, max_length: int, sort_by_length: bool = False
) -> Any:
    """A pandas UDF: sentence -> array of per-piece vectors."""

    @F.pandas_udf("array<array<float>>")
    def embed(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        import torch

        tokenizer, model = _model(checkpoint)
        for texts in batches:
            rows = texts.fillna("").tolist()
            order = list(range(len(rows)))
            if sort_by_length:
                ids = tokenizer(rows, truncation=True, max_length=max_length)["input_ids"]
                order.sort(key=lambda i: len(ids[i]))
            out: list[Any] = [None] * len(rows)
            for start in range(0, len(rows), batch_size):
                chunk = order[start : start + batch_size]
                encoded = tokenizer(
                    [rows[i] for i in chunk],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                    return_token_type_ids=False,
                )
                with torch.inference_mode():
                    hidden = model(**encoded).last_hidden_state.numpy()
                lengths = encoded["attention_mask"].sum(dim=1).tolist()
                for row, (index, length) in enumerate(zip(chunk, lengths, strict=True)):
                    out[index] = list(hidden[row, :length])
            yield pd.Series(out)

    return embed
