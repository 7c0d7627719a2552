// Warm the serving cache after a publish by replaying the most frequent queries.
const DEFAULT_TOP = 200;

async function topQueries(logUrl, top = DEFAULT_TOP) {
  const response = await fetch(logUrl);
  const counts = await response.json();
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([query]) => query);
}

async function warm(searchUrl, queries) {
  for (const query of queries) {
    await fetch(`${searchUrl}?q=${encodeURIComponent(query)}&k=10`);
  }
  return queries.length;
}

module.exports = { topQueries, warm };
