"""Cross-validate a variant of the gbm recipe: the command behind each row of ``docs/model.md``'s record.

    python -m model.tune                                              # the recipe as it is
    python -m model.tune --members log_price_per_sqft:l2              # one member only
    python -m model.tune --set learning_rate=0.05 --rounds 800        # other LightGBM settings
    python -m model.tune --neighbours 5 20 50

Prints 5-fold CV metrics of the training part, on the same folds as ``make train``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from model import cv, data, gbm
from model.metrics import price_metrics


def _member(text: str) -> tuple[str, str]:
    target, _, loss = text.partition(":")
    return target, loss or "l2"


def _setting(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    return name, json.loads(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", nargs="+", type=_member, default=list(gbm.MEMBERS),
                        help="TARGET:OBJECTIVE, e.g. log_price:l1 (default: the recipe's members)")
    parser.add_argument("--set", dest="settings", action="append", type=_setting, default=[],
                        help="a LightGBM parameter, e.g. learning_rate=0.05")
    parser.add_argument("--rounds", type=int, default=gbm.ROUNDS, help="trees per member")
    parser.add_argument("--neighbours", nargs="+", type=int, default=list(gbm.NEIGHBOURS))
    args = parser.parse_args(argv)

    sales, demographics = data.load_sales(), data.load_demographics()
    features = gbm.feature_names(demographics)
    x = gbm.feature_matrix(sales, features, gbm.demographics_table(demographics))
    y = sales["price"].to_numpy(dtype=float)
    train_rows, _ = gbm.split(sales)
    at = sales.index.get_indexer(train_rows)
    estimator = gbm.make_estimator(features, params=dict(args.settings), rounds=args.rounds, members=args.members,
                                   neighbours=tuple(args.neighbours))
    started = time.monotonic()
    m = price_metrics(y[at], cv.cv_predictions(estimator, x[at], y[at]))
    print(f"members {args.members}, settings {dict(args.settings)}, {args.rounds} rounds, "
          f"neighbours {args.neighbours}")
    print(f"5-fold CV: MAPE {m['mape']:.2%}  R2 {m['r2']:.3f}  MAE ${m['mae']:,.0f}  median APE {m['median_ape']:.2%}  "
          f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
