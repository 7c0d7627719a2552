"""Report building blocks shared by the flows: ``render`` (blocks -> Markdown / self-contained HTML) and
``figures`` (a matplotlib figure without pyplot's global state)."""
