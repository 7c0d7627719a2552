"""Screenshots of the MLflow UI for the README, taken in a real (headless) Chromium on this machine.

Not part of the tests or the install. Needs Debian's chromium (`apt-get install chromium`) and Playwright
(`pip install playwright` in any venv with mlflow). Run after `make demo` and one `nightshift benchmark`,
with `nightshift ui --port 5055` serving the workspace:

    python docs/screenshots.py --mlflow http://127.0.0.1:5055
"""

from __future__ import annotations

import argparse
import urllib.parse
from pathlib import Path

OUT = Path(__file__).resolve().parent / "img"


def main() -> None:
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlflow", default="http://127.0.0.1:5055", help="URL of a running MLflow UI")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    base = parser.parse_args().mlflow.rstrip("/")
    client = MlflowClient(base)
    bench = client.get_experiment_by_name("nightshift-benchmark")
    parent = next(r for r in client.search_runs([bench.experiment_id], order_by=["attributes.start_time DESC"])
                  if "mlflow.parentRunId" not in r.data.tags)
    evaluate = client.get_experiment_by_name("nightshift-evaluate")
    ev_run = client.search_runs([evaluate.experiment_id], order_by=["attributes.start_time DESC"])[0]
    children = urllib.parse.quote(f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=parser.parse_args().chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        # the benchmark's child runs (one per candidate), their nDCG@10 side by side in the chart view
        page.goto(f"{base}/#/experiments/{bench.experiment_id}/runs?workflowType=machine_learning"
                  f"&searchFilter={children}&compareRunsMode=CHART")
        page.wait_for_timeout(8000)
        row = page.locator("[role=row]", has_text=parent.info.run_name).first
        row.locator(".ag-cell-last-left-pinned button").first.click()  # expand the parent: its children
        page.get_by_placeholder("Search metric charts").fill("ndcg_at_10")
        page.wait_for_timeout(3000)
        page.screenshot(path=OUT / "mlflow_benchmark_children.png", clip={"x": 0, "y": 0, "width": 1500, "height": 680})
        # the evaluate run's HTML report, as the artifact viewer shows it
        page.goto(f"{base}/#/experiments/{evaluate.experiment_id}/runs/{ev_run.info.run_id}/artifacts/"
                  "report/report.html?workflowType=machine_learning")
        page.wait_for_timeout(8000)
        assistant = page.locator("div", has_text="MLflow Assistant").get_by_role("button", name="Close")
        if assistant.count():  # MLflow 3.17 opens its assistant panel beside the artifact
            assistant.last.click()
            page.wait_for_timeout(1000)
        page.screenshot(path=OUT / "mlflow_evaluate_report.png")
        browser.close()
    print(f"wrote {OUT / 'mlflow_benchmark_children.png'} and {OUT / 'mlflow_evaluate_report.png'}")


if __name__ == "__main__":
    main()
