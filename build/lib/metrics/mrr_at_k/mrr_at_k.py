"""MRR@k (trec_eval recip_rank on the top k) as a local Hugging Face ``evaluate`` module (see metrics/_base.py)."""

from metrics import _base


class MrrAtK(_base.RetrievalMetric):
    """MRR@k (trec_eval recip_rank on the top k): 1 / rank of the first relevant doc within k, else 0."""

    kind = "mrr"
    default_k = 10
