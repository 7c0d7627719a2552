"""nDCG@k (trec_eval ndcg_cut_k) as a local Hugging Face ``evaluate`` module (see metrics/_base.py)."""

from metrics import _base


class NdcgAtK(_base.RetrievalMetric):
    """nDCG@k (trec_eval ndcg_cut_k): gain = grade, log2 discount, ideal DCG from all judged relevant docs."""

    kind = "ndcg"
    default_k = 10
