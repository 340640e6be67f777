#!/usr/bin/env python3
"""Price the client's future_unseen_examples.csv through any deployment of the API.

    python scripts/submit_examples.py                                   # local `make serve`
    python scripts/submit_examples.py --url https://ID.execute-api.REGION.amazonaws.com/prod \\
        --api-key "$API_KEY"                                            # API Gateway
    python scripts/submit_examples.py --batch --json                    # one batch call, JSON out
    python scripts/submit_examples.py --explain --limit 5               # what moved each price, and
                                                                        # its nearest comparable sale

Standard library only, so it runs with any Python 3.11+. Exits 1 if any house was not priced.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FLOAT_COLUMNS = {"bathrooms", "floors", "lat", "long"}


def read_houses(data_dir: Path, limit: int | None) -> list[dict]:
    with (data_dir / "future_unseen_examples.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    return [{k: float(v) if k in FLOAT_COLUMNS else int(v) for k, v in row.items()} for row in rows]


def post(url: str, body: dict, api_key: str | None, timeout: float) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return error.code, json.loads(payload)
        except ValueError:
            return error.code, {"message": payload.decode(errors="replace")[:200]}


def price_all(houses: list[dict], args: argparse.Namespace) -> list[dict]:
    base = args.url.rstrip("/")
    query = f"?model={args.model}" if args.model else ""
    if args.batch:
        status, body = post(f"{base}/v1/predict/batch{query}", {"instances": houses}, args.api_key, args.timeout)
        if status != 200:
            return [{"status": status, "error": body.get("message", body)} for _ in houses]
        warnings: dict[int, list[dict]] = {}
        for warning in body.get("warnings", []):   # fields name the house: instances[3].lat
            match = re.match(r"instances\[(\d+)\]", warning["field"])
            warnings.setdefault(int(match.group(1)) if match else -1, []).append(warning)
        return [{"status": status, **p, "model": body["model"], "price_basis": body["price_basis"],
                 "warnings": warnings.get(i, [])} for i, p in enumerate(body["predictions"])]
    results = []
    route = "/v1/predict/explain" if args.explain else "/v1/predict"
    for house in houses:
        started = time.perf_counter()
        status, body = post(f"{base}{route}{query}", house, args.api_key, args.timeout)
        elapsed_ms = (time.perf_counter() - started) * 1000
        result = {"status": status, "ms": round(elapsed_ms, 1)}
        result.update(body if status == 200 else {"error": body.get("message", body)})
        results.append(result)
    return results


def print_table(url: str, houses: list[dict], results: list[dict]) -> None:
    models = {f"{r['model']['name']} {r['model']['version']}" for r in results if "model" in r}
    print(f"Sound Realty price estimates from {url}  (model: {', '.join(sorted(models)) or 'none'})")
    # The service's own sentence: which month of the 2014-15 data the prices are set at.
    basis = next((r["price_basis"] for r in results if r.get("price_basis")),
                 "Prices are at 2014-15 market levels: the models learned from King County sales of "
                 "May 2014 to May 2015.")
    print(f"Prices are in USD. {basis}\n")
    has_interval = any(r.get("interval") for r in results)
    header = f"{'#':>3}  {'zipcode':<7} {'beds':>4} {'baths':>5} {'living sqft':>11} {'lot sqft':>9} {'built':>5}"
    header += f" {'price':>12}" + (f"  {'80% range':^25}" if has_interval else "")
    print(header)
    print("-" * len(header))
    for index, (house, result) in enumerate(zip(houses, results, strict=True), start=1):
        line = (f"{index:>3}  {house['zipcode']:<7} {house['bedrooms']:>4} {house['bathrooms']:>5.2f} "
                f"{house['sqft_living']:>11,} {house['sqft_lot']:>9,} {house['yr_built']:>5}")
        if result["status"] == 200:
            line += f" {'$' + format(round(result['price']), ','):>12}"
            if has_interval and result.get("interval"):
                low, high = round(result["interval"]["low"]), round(result["interval"]["high"])
                line += f"  {'$' + format(low, ','):>11} - {'$' + format(high, ','):<11}"
        else:
            line += f"  HTTP {result['status']}: {result['error']}"
        print(line)
        for warning in result.get("warnings", []):   # priced, but something looked wrong
            print(f"{'':>5}warning: {warning['problem']}")
        if result.get("contributions"):
            print_explanation(result)
    priced = [r for r in results if r["status"] == 200]
    timings = sorted(r["ms"] for r in priced if "ms" in r)
    print(f"\n{len(priced)} of {len(results)} houses priced", end="")
    if timings:
        print(f"; round trip median {timings[len(timings) // 2]:.1f} ms, max {timings[-1]:.1f} ms", end="")
    print(".")


def dollars(value: float, *, signed: bool = False) -> str:
    text = f"${abs(round(value)):,}"
    return (("+" if value >= 0 else "-") + text) if signed else text


def print_explanation(result: dict) -> None:
    """The three contributions that moved the price most, and the nearest comparable sale."""
    top = sorted(result["contributions"], key=lambda c: abs(c["usd"]), reverse=True)[:3]
    print(f"{'':>5}moved most: " + ", ".join(f"{c['group']} {dollars(c['usd'], signed=True)}" for c in top)
          + f"  (from a baseline of {dollars(result['baseline'])})")
    if result.get("comparables"):
        sale = min(result["comparables"], key=lambda c: c["distance_km"])
        print(f"{'':>5}nearest comparable: {sale['distance_km']:.2f} km away in {sale['zipcode']}, "
              f"{sale['sqft_living']:,} sqft, grade {sale['grade']}, built {sale['yr_built']}; sold "
              f"{sale['sale_date']} for {dollars(sale['sale_price'])} ({dollars(sale['price_at_market_month'])} "
              f"at {result['market_month']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="base URL of the API")
    parser.add_argument("--api-key", default=os.environ.get("API_KEY"), help="API Gateway key (or $API_KEY)")
    parser.add_argument("--model", help="model name or version to ask for (default: the service's default)")
    parser.add_argument("--limit", type=int, help="price only the first N houses")
    parser.add_argument("--batch", action="store_true", help="one /v1/predict/batch call instead of one per house")
    parser.add_argument("--explain", action="store_true",
                        help="ask /v1/predict/explain: print each house's top three contributions and its nearest "
                             "comparable sale")
    parser.add_argument("--json", action="store_true", help="print the answers as JSON instead of a table")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)))
    args = parser.parse_args(argv)
    if args.explain and args.batch:
        parser.error("--explain asks one house at a time; leave out --batch")

    houses = read_houses(args.data_dir, args.limit)
    try:
        results = price_all(houses, args)
    except urllib.error.URLError as error:
        print(f"cannot reach {args.url}: {error.reason}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
    else:
        print_table(args.url, houses, results)
    return 0 if all(r["status"] == 200 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
