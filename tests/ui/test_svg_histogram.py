"""Inline SVG histograms of profiled features, checked against plain-Python counts of the data drawn."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from featurestore.monitoring.histograms import NumericBins
from featurestore.monitoring.profile import FeatureProfile
from featurestore.monitoring.profiler import profile_table
from server.ui.svg_histogram import group_size, histogram_svg

NS = "{http://www.w3.org/2000/svg}"
WEIRD = ["<&>\"'", "a&b", "<script>alert('x')</script>", "x" * 40, "plain", "é ü — ✓"]


def parse(svg: str) -> ET.Element:
    """The SVG as an element tree (it must be well-formed XML), without script or inline style."""
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert not any(e.tag in (f"{NS}script", f"{NS}style") for e in root.iter())
    assert "style" not in {a for e in root.iter() if e is not root for a in e.attrib}
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{NS}rect") if "bar" in e.get("class", "").split()]


def title(e: ET.Element) -> str:
    found = e.find(f"{NS}title")
    assert found is not None and found.text
    return found.text


def profile(**columns: pa.Array) -> dict[str, FeatureProfile]:
    """Each column's profile (a table of its own: lengths may differ)."""
    return {name: profile_table(pa.table({name: array})).features[name] for name, array in columns.items()}


def column(rng: np.random.Generator, n: int, nan: float = 0.0, inf: float = 0.0, null: float = 0.0) -> pa.Array:
    """Normal values (random scale and shift) with some NaN, ±inf and nulls."""
    x = rng.normal(size=n) * rng.uniform(0.001, 1000) + rng.uniform(-100, 100)
    x[rng.random(n) < nan] = np.nan
    spots = rng.random(n) < inf
    x[spots] = rng.choice([-np.inf, np.inf], size=int(spots.sum()))
    return pa.array(x, mask=rng.random(n) < null)


def drawn_values(array: pa.Array) -> list[float]:
    """What a histogram counts, in plain Python: the non-null values but NaN (±inf included)."""
    return [float(v) for v in array.to_pylist() if v is not None and not math.isnan(float(v))]


def check_numeric(svg: str, values: list[float], feature: FeatureProfile, bars_asked: int = 40) -> list[ET.Element]:
    """Every bar against a plain-Python count; returns the bars."""
    root = parse(svg)
    drawn = bars(root)
    assert sum(int(b.get("data-count", "")) for b in drawn) == len(values) == feature.count
    h = feature.histogram
    assert h is not None
    inner = [b for b in drawn if "outside" not in b.get("class", "").split()]
    outside = [b for b in drawn if "outside" in b.get("class", "").split()]
    bounds = [(float(b.get("data-lo", "")), float(b.get("data-hi", ""))) for b in drawn]
    assert bounds == sorted(bounds)  # left to right
    if h.lo == h.hi:
        assert len(inner) == 1 and len(outside) == 2
        assert bounds == [(-math.inf, h.lo), (h.lo, h.lo), (h.lo, math.inf)]
    else:
        g = group_size(bars_asked)
        edges = [float(x) for x in NumericBins(h.lo, h.hi).edges()][::g]
        edges[-1] = h.hi
        assert [(float(b.get("data-lo", "")), float(b.get("data-hi", ""))) for b in inner] == \
            list(itertools.pairwise(edges))
        assert len(inner) == 200 // g
        assert [(float(b.get("data-lo", "")), float(b.get("data-hi", ""))) for b in outside] == \
            [(-math.inf, h.lo)] * (h.counts[0] > 0) + [(h.hi, math.inf)] * (h.counts[-1] > 0)
    for b, (lo, hi) in zip(drawn, bounds, strict=True):
        count = int(b.get("data-count", ""))
        if lo == hi:
            assert count == sum(1 for v in values if v == lo)
            continue
        exact = sum(1 for v in values if lo <= v < hi or v == hi == math.inf)  # overflow: [hi, inf]
        # a value on an edge (to rounding) may fall either side: the profiler bins by floor((x - lo) / w)
        eps = 1e-9 * max(abs(h.lo), abs(h.hi), h.hi - h.lo)
        on_edge = [v for v in values if abs(v - lo) <= eps or abs(v - hi) <= eps]
        if not on_edge:
            assert count == exact, (lo, hi)
        else:
            assert sum(1 for v in values if lo + eps < v < hi - eps or v == hi == math.inf) <= count <= \
                sum(1 for v in values if lo - eps <= v < hi + eps or v == hi == math.inf)
        assert title(b).endswith(f": {count:,} value{'' if count == 1 else 's'}")
    check_heights(root, drawn, "height")
    return drawn


def check_heights(root: ET.Element, drawn: list[ET.Element], size: str) -> None:
    """Bar sizes proportional to counts; the biggest bar has the max count."""
    counts = [int(b.get("data-count", "")) for b in drawn]
    sizes = [float(b.get(size, "")) for b in drawn]
    top = max(counts)
    biggest = max(sizes)
    assert counts[sizes.index(biggest)] == top
    for c, s in zip(counts, sizes, strict=True):
        assert s == pytest.approx(biggest * c / top, abs=0.011)
    if size == "height":  # standing on one baseline
        bases = {round(float(b.get("y", "")) + float(b.get("height", "")), 1) for b in drawn}
        assert len(bases) == 1


def check_accessible(root: ET.Element, name: str) -> None:
    assert root.get("role") == "img"
    assert root.get("width") == "100%" and root.get("viewBox", "").startswith("0 0 ")
    assert root.get("style") == f"max-width:{root.get('viewBox', '').split()[2]}px"
    ids = {e.get("id", ""): e for e in root.iter() if e.get("id")}
    labels = root.get("aria-labelledby", "").split()
    assert len(labels) == 2 and all(i in ids for i in labels)
    assert ids[labels[0]].tag == f"{NS}title" and ids[labels[0]].text == f"histogram of {name}"
    assert ids[labels[1]].tag == f"{NS}desc" and ids[labels[1]].text
    assert all(re.fullmatch(r"h-[A-Za-z0-9_-]+", i) for i in ids)


@pytest.mark.parametrize("seed", range(8))
def test_numeric_bars_match_plain_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 3000))
    data = {"plain": column(rng, n), "dirty": column(rng, n, nan=0.05, inf=0.03, null=0.1),
            "wide": column(rng, n, inf=0.2), "ints": pa.array(rng.integers(-5, 20, size=n)),
            "constant": pa.array(np.full(n, 3.25)),
            "constant_inf": pa.array(np.where(rng.random(n) < 0.1, np.inf * rng.choice([-1, 1], size=n), -7.5)),
            "tiny": pa.array(rng.normal(size=2))}
    features = profile(**data)
    for name, array in data.items():
        feature = features[name]
        svg = histogram_svg(feature)
        drawn = check_numeric(svg, drawn_values(array), feature)
        check_accessible(parse(svg), name)
        desc = parse(svg).find(f"{NS}desc")
        assert desc is not None and desc.text and desc.text.startswith(f"{len(array):,} row")
        assert f": {feature.count:,} value" in desc.text
        assert (f", {feature.missing:,} missing" in desc.text) == bool(feature.missing)
        assert feature.min is not None and f"min {feature.min:.4g}" in desc.text
        tallest = max(drawn, key=lambda b: int(b.get("data-count", "")))
        assert f"holds {int(tallest.get('data-count', '')):,} value" in desc.text
        if name.startswith("constant"):
            assert len(drawn) == 3
        labels = [t.text for t in parse(svg).iter(f"{NS}text")]
        assert f"max {max(int(b.get('data-count', '')) for b in drawn):,} per bar" in labels
        assert feature.histogram is not None and f"{feature.histogram.lo:.4g}" in labels


@pytest.mark.parametrize("bars_asked", [1, 7, 30, 40, 200, 500])
def test_bar_count_divides_the_fine_bins(bars_asked: int) -> None:
    rng = np.random.default_rng(bars_asked)
    array = column(rng, 997, inf=0.01)
    feature = profile(x=array)["x"]
    drawn = check_numeric(histogram_svg(feature, bars=bars_asked), drawn_values(array), feature, bars_asked)
    inner = [b for b in drawn if "outside" not in b.get("class", "")]
    assert len(inner) == 200 // group_size(bars_asked) <= max(bars_asked, 1)


def test_all_underflow_and_overflow_only_when_present() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=500)
    table = pa.table({"x": x})
    below = profile_table(table, bins={"x": NumericBins(100.0, 200.0)}).features["x"]
    drawn = check_numeric(histogram_svg(below), list(x), below)
    counted = [b for b in drawn if int(b.get("data-count", ""))]
    assert len(counted) == 1 and counted[0].get("class") == "bar outside" and counted[0].get("data-lo") == "-inf"
    assert float(counted[0].get("height", "")) == max(float(b.get("height", "")) for b in drawn)
    assert len([b for b in drawn if "outside" in b.get("class", "")]) == 1  # no empty overflow bar
    above = profile_table(table, bins={"x": NumericBins(-200.0, -100.0)}).features["x"]
    drawn = check_numeric(histogram_svg(above), list(x), above)
    assert [b.get("data-hi") for b in drawn if "outside" in b.get("class", "")] == ["inf"]
    inside = profile_table(pa.table({"x": [0.5, 1.5]}), bins={"x": NumericBins(0.0, 2.0)}).features["x"]
    drawn = check_numeric(histogram_svg(inside), [0.5, 1.5], inside)
    assert not [b for b in drawn if "outside" in b.get("class", "")]


def test_nothing_to_draw() -> None:
    features = profile(empty=pa.array([None, None], pa.float64()), nans=pa.array([math.nan, None]),
                       infs=pa.array([math.inf, -math.inf]), strings=pa.array([None, None], pa.string()),
                       when=pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 2))
    for feature in features.values():
        assert histogram_svg(feature) == "", feature.name
    none = profile(x=pa.array([], pa.float64()), s=pa.array([], pa.string()))
    assert histogram_svg(none["x"]) == histogram_svg(none["s"]) == ""


@pytest.mark.parametrize("seed", range(4))
def test_categorical_bars_and_escaping(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = WEIRD + [f"v{i}" for i in range(int(rng.integers(0, 15)))]
    values: list[str | None] = [pool[int(i)] if rng.random() > 0.1 else None
                                for i in rng.zipf(1.5, size=800) % len(pool)]
    name = "tier <&>\"'"
    feature = profile(**{name: pa.array(values, pa.string())})[name]
    svg = histogram_svg(feature)
    root = parse(svg)
    check_accessible(root, name)
    assert root.get("data-feature") == name
    drawn = bars(root)
    counted = Counter(v for v in values if v is not None)
    top = sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(b.get("data-value"), int(b.get("data-count", ""))) for b in drawn] == top
    for b, (value, count) in zip(drawn, top, strict=True):
        assert title(b) == f"{value}: {count:,} value{'' if count == 1 else 's'}"
    labels = [t for t in root.iter(f"{NS}text") if t.get("class") == "label"]
    for label, (value, _) in zip(labels, top, strict=True):
        text = "".join(label.itertext())
        if len(value) > 24:
            assert label.find(f"{NS}title") is not None and title(label) == value
            assert text.endswith(f"{value[:23]}…")
        else:
            assert text == value
    check_heights(root, drawn, "width")
    more = [t for t in root.iter(f"{NS}text") if t.get("class") == "label more"]
    assert len(more) == (len(counted) > 10)
    if more:
        rest = sum(counted.values()) - sum(c for _, c in top)
        plural = "" if len(counted) == 11 else "s"
        assert more[0].text == f"and {len(counted) - 10:,} more value{plural} ({rest:,} rows)"
    assert "<script" not in svg


def test_booleans() -> None:
    feature = profile(flag=pa.array([True, False, True, None]))["flag"]
    root = parse(histogram_svg(feature))
    assert [(b.get("data-value"), b.get("data-count")) for b in bars(root)] == [("true", "2"), ("false", "1")]


def test_ids_unique_per_feature() -> None:
    names = ["conv.rate", "conv_rate", "conv rate", "conv-rate", "conv<rate>", "é"]
    features = profile(**{n: pa.array([1.0, 2.0, 3.0]) for n in names})
    ids: list[str] = []
    for n in names:
        root = parse(histogram_svg(features[n]))
        ids += [e.get("id", "") for e in root.iter() if e.get("id")]
        check_accessible(root, n)
    assert len(ids) == len(set(ids)) == 2 * len(names)
    a = parse(histogram_svg(features["conv.rate"], id_prefix="ref-"))
    assert all(e.get("id", "").startswith("ref-conv_rate-") for e in a.iter() if e.get("id"))


def test_fine_bins_match_the_profiler() -> None:
    from featurestore.monitoring import histograms
    from server.ui import svg_histogram

    assert svg_histogram.FINE_BINS == histograms.FINE_BINS
