"""Cross-validate a variant of the gbm recipe: the command behind each row of ``docs/model.md``'s record.

    python -m model.tune                                              # the recipe as it is
    python -m model.tune --members local relative                     # some members only
    python -m model.tune --set learning_rate=0.05 --rounds 300        # other LightGBM settings
    python -m model.tune --scale 1                                    # no shrink of the blend
    python -m model.tune --regressors                                 # local regression on size, grade, age, lot only
    python -m model.tune --set seed=1                                 # another seed

Prints 5-fold CV metrics of the training part, on the same folds as ``make train``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from lambda_fn.core.neighbourhood import REGRESSOR_SCALES
from model import cv, data, gbm
from model.metrics import price_metrics


def _setting(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    return name, json.loads(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", nargs="+", choices=sorted(gbm.MEMBER_VIEWS), default=list(gbm.MEMBERS),
                        help="members by view (model/gbm.py MEMBER_VIEWS; default: the recipe's)")
    parser.add_argument("--set", dest="settings", action="append", type=_setting, default=[],
                        help="a LightGBM parameter, e.g. learning_rate=0.05")
    parser.add_argument("--rounds", type=int, default=gbm.ROUNDS, help="trees per member")
    parser.add_argument("--scale", type=float, default=gbm.SCALE, help="the blend's shrink factor")
    parser.add_argument("--regressors", nargs="*", choices=sorted(REGRESSOR_SCALES), default=list(gbm.REGRESSORS),
                        help="house columns the local regression also takes (default: the recipe's)")
    parser.add_argument("--by-house", action="store_true", help="folds that keep every sale of a house together")
    args = parser.parse_args(argv)

    sales, demographics = data.load_sales(), data.load_demographics()
    features = gbm.feature_names(demographics)
    x = gbm.feature_matrix(sales, features, gbm.demographics_table(demographics))
    y = sales["price"].to_numpy(dtype=float)
    train_rows, _ = gbm.split(sales)
    at = sales.index.get_indexer(train_rows)
    estimator = gbm.make_estimator(features, params=dict(args.settings), rounds=args.rounds, members=args.members,
                                   scale=args.scale, regressors=args.regressors)
    split = cv.folds_by_house(sales.loc[train_rows, "id"]) if args.by_house else None
    started = time.monotonic()
    m = price_metrics(y[at], cv.cv_predictions(estimator, x[at], y[at], split=split))
    print(f"members {args.members}, settings {dict(args.settings)}, {args.rounds} rounds, scale {args.scale:g}, "
          f"regressors {args.regressors}{', folds by house' if args.by_house else ''}")
    print(f"5-fold CV: MAPE {m['mape']:.2%}  R2 {m['r2']:.3f}  MAE ${m['mae']:,.0f}  median APE {m['median_ape']:.2%}  "
          f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
