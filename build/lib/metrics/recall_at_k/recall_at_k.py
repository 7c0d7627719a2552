"""Recall@k (trec_eval recall_k) as a local Hugging Face ``evaluate`` module (see metrics/_base.py)."""

from metrics import _base


class RecallAtK(_base.RetrievalMetric):
    """Recall@k (trec_eval recall_k): relevant docs in the top k / all relevant docs (grade > 0)."""

    kind = "recall"
    default_k = 100
