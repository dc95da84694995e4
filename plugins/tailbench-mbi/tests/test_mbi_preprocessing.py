"""The public encoding: nothing read from the rows, types and missingness from the schema only."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, sub_schema
from tailbench_mbi import MSTGenerator
from tailbench_mbi.encode import PublicEncoder

from bench.errors import SchemaError

#: bounds for fair's numerical columns, given by hand (its schema releases them with DP)
FAIR_BOUNDS = {"age": (17.5, 42.0), "yrs_married": (0.5, 23.0), "children": (0.0, 5.5), "affairs": (0.0, 60.0)}


def with_fields(schema, **fields):
    """A copy of ``schema`` with the public fields ``integers`` / ``nullable`` set."""
    s = copy.deepcopy(schema)
    for k, v in fields.items():
        setattr(s, k, list(v))
    return s


def extreme_row(train: pd.DataFrame, schema) -> pd.DataFrame:
    """One record far outside every public bound and domain."""
    row = {}
    for col in train.columns:
        kind = schema.columns[col]
        if kind == "numerical":
            row[col] = 1e12
        elif kind in ("categorical", "boolean"):
            row[col] = "a value no domain lists"
        else:
            row[col] = train[col].iloc[0]
    return pd.concat([train, pd.DataFrame([row], index=[-1])])


def test_one_extreme_record_changes_nothing_in_the_fitted_preprocessing(adult_small):
    train, schema = adult_small.splits().train, adult_small.schema
    public = [c for c in schema.modelled if c not in schema.dp_bounds]
    # every column with public bounds or a public domain: the whole encoding, with and without the record
    bounds = {c: schema.bounds[c] for c in schema.bounds}
    encoders = [PublicEncoder(10).fit(sub_schema(schema, public), bounds=bounds) for _ in range(2)]
    for enc, rows in zip(encoders, (train, extreme_row(train, schema))):
        cells = enc.transform(rows)
        assert all(int(c.max()) < size for c, size in zip(cells.values(), enc.shape))
    assert encoders[0].describe() == encoders[1].describe()
    # and through fit (a few columns keep it fast): same fitted encoding, same mbi domain
    cols = ["age", "capital-gain", "workclass", "income"]
    sub = sub_schema(schema, cols)
    small = train[cols].iloc[:600]
    fits = [
        MSTGenerator(epsilon=1.0, random_state=0, verbose=False, **FAST).fit(rows, sub)
        for rows in (small, extreme_row(small, sub))
    ]
    assert fits[0].encoder_.describe() == fits[1].encoder_.describe()
    assert fits[0].encoder_.shape == fits[1].encoder_.shape
    # (a dp_bounds column such as fnlwgt is a DP release: one record moves its bounds' distribution
    # by at most e^epsilon_i, not by nothing; tests/test_dp_format.py covers that release)


def test_encoding_round_trips_every_cell(fair):
    schema = with_fields(fair.schema, integers=["children"], nullable=["age", "religious"])
    enc = PublicEncoder(n_bins=4).fit(schema, bounds=FAIR_BOUNDS)
    rng = np.random.default_rng(0)
    for col in enc.columns_:
        cells = np.arange(col.size)
        values = col.decode(np.repeat(cells, 20), rng)
        back = col.encode(values)
        np.testing.assert_array_equal(back, np.repeat(cells, 20), err_msg=col.name)


def test_types_and_missingness_follow_the_schema_not_the_rows(fair, fair_small):
    cols = ["age", "yrs_married", "children", "religious", "educ"]
    train = fair_small[cols].copy()
    bounds = {"age": (17.5, 42.0), "yrs_married": (0.5, 23.0), "children": (0.0, 5.5)}  # declared public here
    train.loc[train.index[:30], "religious"] = np.nan  # missing in a nullable column
    train.loc[train.index[30:60], "educ"] = np.nan  # missing in a column the schema says is complete
    train["children"] = train["children"].astype(float)  # dtype says float; the schema says integers
    schema = with_fields(sub_schema(fair.schema, cols), integers=["children", "yrs_married"], nullable=["religious"])
    schema.bounds, schema.dp_bounds, schema.bounds_source = dict(bounds), {}, {}
    gen = MSTGenerator(epsilon=4.0, random_state=0, verbose=False, **FAST).fit(train, schema)
    enc = {c.name: c for c in gen.encoder_.columns_}
    assert enc["religious"].nullable and not enc["educ"].nullable
    assert enc["children"].integer and not enc["age"].integer
    out = gen.sample(3000)
    assert out["religious"].isna().any(), "the nullable column keeps its missing values"
    assert out.drop(columns=["religious"]).notna().all().all(), "only nullable columns are ever NaN"
    assert out["children"].dtype == np.int64 and out["yrs_married"].dtype == np.int64
    assert out["age"].dtype == np.float64
    assert out["yrs_married"].between(1, 23).all() and out["children"].between(0, 5).all()


def test_numerical_bins_and_point_masses(fair):
    schema = with_fields(fair.schema, integers=["children"])
    enc = {c.name: c for c in PublicEncoder(n_bins=10).fit(schema, bounds=FAIR_BOUNDS).columns_}
    age = enc["age"]  # float bounds [17.5, 42]: 10 equal-width bins + two point masses
    assert age.size == 12 and age.edges[0] == 17.5 and age.edges[-1] == 42.0
    np.testing.assert_array_equal(age.encode(pd.Series([17.5, 42.0, 18.0, 41.9, -5.0, 99.0])), [0, 1, 2, 11, 0, 1])
    kids = enc["children"]  # whole numbers 0..5 (bounds [0, 5.5]): at most 2 n_bins of them, one cell each
    assert kids.per_value and kids.low == 0 and kids.high == 5 and kids.size == 6
    np.testing.assert_array_equal(kids.encode(pd.Series([0, 0.2, 1, 3.4, 4, 5, 7])), [0, 0, 1, 3, 4, 5, 5])
    yrs = (
        PublicEncoder(n_bins=4).fit(with_fields(fair.schema, integers=["yrs_married"]), bounds=FAIR_BOUNDS).columns_[2]
    )
    assert yrs.name == "yrs_married" and yrs.integer and not yrs.per_value  # 1..23: 23 > 2 * 4 whole numbers
    assert yrs.edges == list(np.linspace(1, 23, 5))  # the equal-width grid of the 2-way metric
    out = yrs.decode(np.repeat(np.arange(yrs.size), 50), np.random.default_rng(0))
    assert (out % 1 == 0).all() and out.between(1, 23).all()


def test_missing_public_knowledge_is_a_named_schema_error(fair):
    schema = copy.deepcopy(fair.schema)
    schema.dp_bounds = {}
    with pytest.raises(SchemaError, match=r"(?s)4 column\(s\).*age: no public bounds.*affairs: no public bounds"):
        MSTGenerator(random_state=0, verbose=False).fit(fair.splits().train, schema)  # neither bounds nor dp_bounds
    schema = copy.deepcopy(fair.schema)
    del schema.domains["educ"]
    with pytest.raises(SchemaError, match="'educ'.*public domain"):
        PublicEncoder().fit(schema, bounds=FAIR_BOUNDS)
