"""MAP@k (trec_eval map_cut_k) as a local Hugging Face ``evaluate`` module (see metrics/_base.py)."""

from metrics import _base


class MapAtK(_base.RetrievalMetric):
    """MAP@k (trec_eval map_cut_k): precision summed at relevant ranks within k / all relevant docs."""

    kind = "map"
    default_k = 100
