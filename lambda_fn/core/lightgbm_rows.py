"""A few rows through a LightGBM model by the C API's single-row fast path.

``Booster.predict`` pays about 50 µs a call however few the rows (it parses its parameters, sets
up a predictor and checks the input each time), about ten times what the trees themselves take
for one row. LightGBM's public C API has a path made for this: ``..SingleRowFastInit`` does
that set-up once, ``..SingleRowFast`` then walks the same trees with the same code for one row
(4-5 µs here). This module binds those calls with ctypes, on the library the ``lightgbm``
package itself loaded, and nothing else ([decision 021](../../docs/decisions/021-lightgbm-single-row-fast-path.md)).
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np

# c_api.h
PREDICT_NORMAL = 0      # C_API_PREDICT_NORMAL: the objective's output, as Booster.predict gives by default
DTYPE_FLOAT64 = 1       # C_API_DTYPE_FLOAT64
ALL_ITERATIONS = -1


@cache
def _library(lightgbm_module: ModuleType) -> ctypes.CDLL:
    """The shared library inside the installed package: the one ``import lightgbm`` loaded."""
    found = sorted((Path(lightgbm_module.__file__).parent / "lib").glob("lib_lightgbm.*"))
    if not found:
        raise RuntimeError(f"no lib_lightgbm in {Path(lightgbm_module.__file__).parent / 'lib'}")
    library = ctypes.CDLL(str(found[0]))
    library.LGBM_GetLastError.restype = ctypes.c_char_p
    library.LGBM_BoosterLoadModelFromString.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                                        ctypes.POINTER(ctypes.c_void_p)]
    library.LGBM_BoosterPredictForMatSingleRowFastInit.argtypes = [
        ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int32, ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_void_p)]
    library.LGBM_BoosterPredictForMatSingleRowFast.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p]
    library.LGBM_BoosterGetNumFeature.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    library.LGBM_FastConfigFree.argtypes = [ctypes.c_void_p]
    library.LGBM_BoosterFree.argtypes = [ctypes.c_void_p]
    return library


def _check(library: ctypes.CDLL, status: int) -> None:
    if status != 0:
        raise RuntimeError(f"LightGBM: {library.LGBM_GetLastError().decode('utf-8', 'replace')}")


def _free(library: ctypes.CDLL, fast_config: ctypes.c_void_p, handle: ctypes.c_void_p) -> None:
    library.LGBM_FastConfigFree(fast_config)
    library.LGBM_BoosterFree(handle)


class RowPredictor:
    """``Booster(model_str=model_text).predict(rows, num_threads=1)`` for a few rows, the same
    numbers to the last bit.

    Holds its own copy of the model, loaded from LightGBM's text model (a version's member file,
    or ``Booster.model_to_string()``), and one row buffer, so calls are serialised by a lock; its
    C objects are freed with it."""

    def __init__(self, model_text: str, lightgbm_module: ModuleType) -> None:
        self._library = library = _library(lightgbm_module)
        self._handle, self._fast, iterations = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_int()
        _check(library, library.LGBM_BoosterLoadModelFromString(model_text.encode("utf-8"), ctypes.byref(iterations),
                                                                ctypes.byref(self._handle)))
        try:
            columns = ctypes.c_int()
            _check(library, library.LGBM_BoosterGetNumFeature(self._handle, ctypes.byref(columns)))
            self.columns = columns.value
            _check(library, library.LGBM_BoosterPredictForMatSingleRowFastInit(
                self._handle, PREDICT_NORMAL, 0, ALL_ITERATIONS, DTYPE_FLOAT64, self.columns, b"num_threads=1",
                ctypes.byref(self._fast)))
        except RuntimeError:
            library.LGBM_BoosterFree(self._handle)
            raise
        weakref.finalize(self, _free, library, self._fast, self._handle)
        # One row in, one value out, at addresses fixed once: a call then costs the C call and a
        # copy of the row, not numpy's and ctypes' objects for its arguments. The lock serialises them.
        self._lock = threading.Lock()
        self._row, self._value = np.empty(self.columns), np.empty(1)
        self._arguments = (self._fast, ctypes.c_void_p(self._row.ctypes.data), ctypes.byref(ctypes.c_int64()),
                           ctypes.c_void_p(self._value.ctypes.data))
        self._predict_row = library.LGBM_BoosterPredictForMatSingleRowFast

    def predict(self, rows: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """One prediction per row of ``rows``: of the row itself (rows x ``columns``), or of the
        row's ``columns`` (indices, in the order the model reads them)."""
        rows = np.asarray(rows, dtype=np.float64)
        width = rows.shape[-1] if columns is None else len(columns)
        if rows.ndim != 2 or width != self.columns:
            raise ValueError(f"expected rows of {self.columns} columns, got shape {rows.shape}"
                             + ("" if columns is None else f" and {width} columns to read"))
        out = np.empty(len(rows))
        with self._lock:
            for i, row in enumerate(rows):
                if columns is None:
                    self._row[:] = row
                else:
                    row.take(columns, out=self._row)
                _check(self._library, self._predict_row(*self._arguments))
                out[i] = self._value[0]
        return out
