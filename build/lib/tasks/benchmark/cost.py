"""Cost from the price table: $ per 1M tokens ingested and $ per 1k queries.

Self-hosted (the default): the machine's hourly price times the time the work takes, from the
measured throughput and mean single-query latency (the machine is busy with one request at a time,
as measured). An embedder priced per token (``prices.api_usd_per_1m_tokens[name]``, e.g. the same
model behind a hosted endpoint): its token price for the corpus, and for queries the mean query
tokens at that price plus the machine time of the measured latency (an upper bound: the latency
includes the local embedding the endpoint would replace).
"""

from __future__ import annotations

import math
from typing import Any

from tasks.benchmark.config import Prices

SECONDS_PER_HOUR = 3600.0


def hourly_price(prices: Prices, device: str) -> float:
    return prices.gpu_hour_usd if device.startswith("cuda") else prices.cpu_hour_usd


def costs(systems: dict[str, Any], prices: Prices, embedder: str | None, device: str = "cpu") -> dict[str, float]:
    """``usd_per_1m_tokens`` (ingestion: embedding + index build) and ``usd_per_1k_queries``."""
    per_second = hourly_price(prices, device) / SECONDS_PER_HOUR
    tokens_per_s = float(systems.get("tokens_per_s") or math.nan)
    query_s = float(systems.get("query_mean_ms", math.nan)) / 1000
    api = prices.api_usd_per_1m_tokens.get(embedder) if embedder else None
    if api is not None:
        query_tokens = float(systems.get("query_mean_tokens", 0.0))
        return {"usd_per_1m_tokens": float(api),
                "usd_per_1k_queries": 1000 * (query_tokens * api / 1e6 + query_s * per_second)}
    return {"usd_per_1m_tokens": 1e6 / tokens_per_s * per_second if tokens_per_s > 0 else math.nan,
            "usd_per_1k_queries": 1000 * query_s * per_second}
