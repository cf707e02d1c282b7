"""Run an on-demand view's Polars expressions or Python row function, offline (Arrow) and online (Python values).

One engine per definition: Polars runs the expressions offline over the whole training set (and online
for what the compiler does not cover); CPython runs the row function on both paths, on the same value
types (Arrow ``to_pylist()`` offline, the online codec's values online). Outputs are checked and cast
to their declared types the same way on both paths, so ``run_rows`` equals ``run_table(...).to_pylist()``.

>>> import polars as pl, pyarrow as pa
>>> from featurestore.definitions.field import Field
>>> from featurestore.types import Bool, Float64
>>> r = OnDemandRunner("eta", [Field(name="eta_min", dtype=Float64), Field(name="long_trip", dtype=Bool)],
...     expressions={"eta_min": pl.col("km") / pl.col("kmh") * 60, "long_trip": pl.col("km") > 20},
...     inputs=[Field(name="km", dtype=Float64), Field(name="kmh", dtype=Float64)])
>>> r.run_rows({"km": [30.0, None], "kmh": [60.0, 50.0]}, 2)
{'eta_min': [30.0, None], 'long_trip': [True, None]}
>>> r.run_table(pa.table({"km": [30.0, None], "kmh": [60.0, 50.0]})).to_pylist()
[{'eta_min': 30.0, 'long_trip': True}, {'eta_min': None, 'long_trip': None}]
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from featurestore import types
from featurestore.definitions.field import Field
from featurestore.definitions.rowlocal import Tree, check_row_local, expression_inputs, tree
from featurestore.errors import DefinitionError, InputError, TransformError
from featurestore.transform import polars_path
from featurestore.transform.compile import Compiled, NotCompiled, compile_tree
from featurestore.transform.values import BadValue, coercer

if TYPE_CHECKING:
    import polars as pl

Describe = Callable[[int], str]


class OnDemandRunner:
    """Runs one on-demand view: ``expressions`` (Polars) or ``udf`` (a Python function of one row dict).

    ``inputs`` are the columns the view may read (bare names, declared types): its source views'
    features and its request fields. ``outputs`` are its features. Construction checks the
    expressions (row-local, inputs known, output types castable) and compiles what it can for
    the online path (``compiled`` lists those features).
    """

    def __init__(self, name: str, outputs: Sequence[Field], *, expressions: Mapping[str, pl.Expr] | None = None,
                 udf: Callable[[dict[str, Any]], dict[str, Any]] | None = None, inputs: Sequence[Field]) -> None:
        if (expressions is None) == (udf is None):
            raise DefinitionError(f"on-demand view {name!r} takes exactly one of expressions and udf", name=name)
        self.name = name
        self.outputs = tuple(outputs)
        self.inputs = tuple(inputs)
        self._out_coerce = [(f.name, coercer(f.dtype)) for f in self.outputs]
        self._udf = udf
        self._expressions: dict[str, pl.Expr] = {}
        self._compiled: dict[str, Compiled] = {}
        if expressions is not None:
            self._init_expressions(expressions)
            self.reads: tuple[Field, ...] = tuple(f for f in self.inputs if f.name in self._roots)
        else:
            if not callable(udf):
                raise DefinitionError(f"on-demand view {name!r}: udf is not callable", name=name)
            self.reads = self.inputs
        self._in_coerce = [(f.name, coercer(f.dtype)) for f in self.reads]

    @property
    def mode(self) -> str:
        """``"polars"`` or ``"python"``."""
        return "python" if self._udf is not None else "polars"

    @property
    def compiled(self) -> tuple[str, ...]:
        """The features whose expressions run as compiled Python online (the others run in Polars)."""
        return tuple(self._compiled)

    def _init_expressions(self, expressions: Mapping[str, pl.Expr]) -> None:
        name = self.name
        declared = [f.name for f in self.outputs]
        if sorted(expressions) != sorted(declared):
            extra, missing = sorted(set(expressions) - set(declared)), sorted(set(declared) - set(expressions))
            feature = (extra or missing)[0]
            raise DefinitionError(f"on-demand view {name!r}: expressions {'define' if extra else 'lack'} feature "
                                  f"{feature!r}; their names must be the schema's", name=name, feature=feature)
        check_row_local(name, expressions)
        known = {f.name for f in self.inputs}
        for feature, expr in expressions.items():
            unknown = sorted(expression_inputs({feature: expr}) - known)
            if unknown:
                raise DefinitionError(f"on-demand view {name!r}: feature {feature!r} reads {unknown[0]!r}, which is "
                                      f"not an input (inputs: {sorted(known)})", name=name, feature=feature,
                                      column=unknown[0])
        self._expressions = {f: expressions[f] for f in declared}
        self._roots = expression_inputs(expressions)
        reads = [f for f in self.inputs if f.name in self._roots]
        frame = polars_path.empty_frame(reads)
        out = polars_path.evaluate(name, frame, self._expressions, self.outputs, None)  # checks output types
        assert out.num_rows == 0
        self._compile(frame, reads)

    def _compile(self, frame: pl.DataFrame, reads: Sequence[Field]) -> None:
        from featurestore.transform.values import POLARS_NAMES

        dtypes = {f.name: POLARS_NAMES.get(f.dtype.name, f.dtype.name) for f in reads}
        index = {f.name: i for i, f in enumerate(reads)}

        def check(node: Tree, dtype: str) -> None:
            if polars_path.polars_type_of(frame, node) != dtype:
                raise NotCompiled(f"type {dtype} differs from Polars'")

        for feature, expr in self._expressions.items():
            try:
                self._compiled[feature] = compile_tree(tree(self.name, feature, expr), dtypes, index, check)
            except NotCompiled:
                continue

    # offline ----------------------------------------------------------------------------------------------

    def run_table(self, table: pa.Table, rows_described: Callable[[int], str] | None = None) -> pa.Table:
        """The outputs for every row of ``table`` (which holds at least the input columns), declared Arrow types."""
        inputs = self._input_table(table)
        if self._udf is None:
            return polars_path.evaluate(self.name, self._frame(inputs, table.num_rows), self._expressions, self.outputs,
                                        rows_described)
        paused = gc.isenabled()
        gc.disable()  # a dict per row: the cyclic collector would run many times over objects that live on
        try:
            rows = inputs.to_pylist() if self.reads else [{} for _ in range(table.num_rows)]
            out = self._run_udf(rows, rows_described or (lambda i: f"row {i}"))
        finally:
            if paused:
                gc.enable()
        return pa.table({f.name: pa.array(out[i], type=f.dtype.to_arrow()) for i, f in enumerate(self.outputs)})

    def _frame(self, inputs: pa.Table, n: int) -> pl.DataFrame:
        import polars as pl

        if not inputs.num_columns:
            return polars_path.frame_of({}, [], n)
        frame = pl.from_arrow(inputs)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def _input_table(self, table: pa.Table) -> pa.Table:
        arrays = []
        for f in self.reads:
            if f.name not in table.column_names:
                raise InputError(f"on-demand view {self.name!r} needs input column {f.name!r}, which is missing",
                                 view=self.name, column=f.name)
            col, target = table.column(f.name), f.dtype.to_arrow()
            if col.type != target:
                try:
                    col = col.cast(target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                    raise InputError(f"on-demand view {self.name!r}: input column {f.name!r} of type {col.type} "
                                     f"does not fit {f.dtype}", view=self.name, column=f.name) from e
            arrays.append(col)
        return pa.table(arrays, names=[f.name for f in self.reads]) if arrays else pa.table({})

    # online -----------------------------------------------------------------------------------------------

    def run_rows(self, columns: Mapping[str, list[Any]], n: int,
                 typed: Collection[str] = ()) -> dict[str, list[Any]]:
        """The outputs for ``n`` rows of Python input values (equal to ``run_table(...).to_pylist()``).

        ``typed``: inputs whose values already have their declared types (decoded from the online store, which
        holds exactly what was written after its checks): taken as they are, the others are converted.
        """
        values = self._input_values(columns, n, typed)
        if self._udf is not None:
            names = [f.name for f in self.reads]
            rows = [dict(zip(names, v, strict=True)) for v in zip(*values, strict=True)] if names else [
                {} for _ in range(n)]
            out = self._run_udf(rows, None)
            return {f.name: out[i] for i, f in enumerate(self.outputs)}
        tuples = list(zip(*values, strict=True)) if values else [()] * n
        result: dict[str, list[Any]] = {}
        rest = []
        for f, coerce in zip(self.outputs, (c for _, c in self._out_coerce), strict=True):
            c = self._compiled.get(f.name)
            if c is None:
                rest.append(f)
                continue
            fn = c.fn
            try:
                result[f.name] = [coerce(fn(r)) for r in tuples]
            except BadValue as e:
                raise TransformError(f"on-demand view {self.name!r}: feature {f.name!r}: {e}",
                                     view=self.name, feature=f.name) from e
            except Exception:  # an unforeseen case of the compiled twin: Polars (the reference) decides
                rest.append(f)
        if rest:
            frame = polars_path.frame_of(dict(zip([f.name for f in self.reads], values, strict=True)), self.reads, n)
            table = polars_path.evaluate(self.name, frame, {f.name: self._expressions[f.name] for f in rest}, rest,
                                         None)
            for f in rest:
                result[f.name] = table.column(f.name).to_pylist()
        return {f.name: result[f.name] for f in self.outputs}

    def _input_values(self, columns: Mapping[str, list[Any]], n: int, typed: Collection[str] = ()) -> list[list[Any]]:
        out = []
        for field, coerce in self._in_coerce:
            if field not in columns:
                raise InputError(f"on-demand view {self.name!r} needs input {field!r}, which is missing",
                                 view=self.name, field=field)
            col = columns[field]
            if len(col) != n:
                raise InputError(f"on-demand view {self.name!r}: input {field!r} has {len(col)} values for {n} rows",
                                 view=self.name, field=field)
            if field in typed:
                out.append(col)
                continue
            try:
                out.append([coerce(v) for v in col])
            except BadValue as e:
                raise InputError(f"on-demand view {self.name!r}: input {field!r}: {e}", view=self.name,
                                 field=field) from e
        return out

    # python row functions ---------------------------------------------------------------------------------

    def _run_udf(self, rows: list[dict[str, Any]], describe: Describe | None) -> list[list[Any]]:
        """Call the function once per row; the outputs (coerced to their types) column by column."""
        udf = self._udf
        assert udf is not None
        results: list[Any] = []
        append = results.append
        try:
            for row in rows:
                append(udf(row))
        except Exception as e:
            i = len(results)
            where = f" at {describe(i)}" if describe else ""
            raise TransformError(f"on-demand view {self.name!r} raised {type(e).__name__}: {e}{where}",
                                 view=self.name, row=describe(i) if describe else None) from e
        names = [n for n, _ in self._out_coerce]
        try:
            if not set(map(type, results)) <= {dict} or not set(map(len, results)) <= {len(names)}:
                raise _Extra()
            out = []
            for name, coerce in self._out_coerce:
                values = [r[name] for r in results]
                fast = _NO_COERCION.get(coerce)
                out.append(values if fast and set(map(type, values)) <= fast else [coerce(v) for v in values])
            return out
        except (BadValue, KeyError, TypeError, _Extra):
            pass
        for i, result in enumerate(results):  # find the first row at fault, and say what is wrong with it
            try:
                if not isinstance(result, Mapping) or len(result) != len(names):
                    raise _Extra(sorted(set(result) - set(names))[0] if isinstance(result, Mapping) else None)
                for name, coerce in self._out_coerce:
                    coerce(result[name])
            except (BadValue, KeyError, TypeError, IndexError, _Extra) as e:
                raise self._output_error(e, result, i, describe, names) from e
        raise AssertionError("unreachable: an output error without a row at fault")  # pragma: no cover

    def _output_error(self, e: Exception, result: Any, i: int, describe: Describe | None,
                      names: list[str]) -> TransformError:
        row = describe(i) if describe else None
        where = f" at {row}" if row else ""
        if not isinstance(result, Mapping):
            return TransformError(f"on-demand view {self.name!r} returned a {type(result).__name__}, not a dict of "
                                  f"its features{where}", view=self.name, row=row)
        missing = [n for n in names if n not in result]
        if missing:
            return TransformError(f"on-demand view {self.name!r} returned no value for feature {missing[0]!r}{where}",
                                  view=self.name, feature=missing[0], row=row)
        if isinstance(e, _Extra):
            return TransformError(f"on-demand view {self.name!r} returned {e.args[0]!r}, which is not one of its "
                                  f"features {names}{where}", view=self.name, feature=str(e.args[0]), row=row)
        bad = next((n for n, c in self._out_coerce if not _fits(c, result[n])), names[0])
        dtype = next(f.dtype for f in self.outputs if f.name == bad)
        return TransformError(f"on-demand view {self.name!r}: feature {bad!r} is declared {dtype}, but the function "
                              f"returned {result[bad]!r} ({_reason(e)}){where}", view=self.name, feature=bad, row=row)


class _Extra(Exception):  # noqa: N818 - internal signal
    pass


_NO_COERCION: dict[Callable[[Any], Any], set[type]] = {
    coercer(types.Float64): {float, type(None)},
    coercer(types.String): {str, type(None)},
    coercer(types.Bool): {bool, type(None)},
    coercer(types.Bytes): {bytes, type(None)},
}
"""Output columns whose values are all of these types are already what the coercer would give."""


def _fits(coerce: Callable[[Any], Any], value: Any) -> bool:
    try:
        coerce(value)
    except BadValue:
        return False
    return True


def _reason(e: Exception) -> str:
    return str(e) if isinstance(e, BadValue) else type(e).__name__
