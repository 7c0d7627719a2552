"""Golden sets that live: ``golden init`` (a Prefect flow: log -> stratified, de-duplicated sample -> pooled
candidates -> labelling file), ``golden label`` (``label.py``: GX-checked import -> a new DVC-tracked version),
``golden add-feedback`` (``feedback.py``: feedback rows -> candidate rows). The shared pieces (labelling file,
pooling, versions, staleness) are ``tasks.goldenset``."""
