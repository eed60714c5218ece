"""The Spark job against `fedshare attention`: Spark local[2], the marketplace example's data and a
generated file of 1,000,000 rows. Sums are exact (grid 2^-52), so the outputs must be the same
bytes. Run: scripts/spark-tests.sh (or .build-venv/spark/bin/python -m pytest Integrations/spark/tests).
The fedshare executable: $FEDSHARE, default .build/debug/fedshare."""
import csv
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))
import fedshare_spark  # noqa: E402

FEDSHARE = os.environ.get("FEDSHARE", os.path.join(ROOT, ".build", "debug", "fedshare"))
MARKETPLACE = os.path.join(ROOT, "Examples", "marketplace")


@pytest.fixture(scope="session")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    session = (SparkSession.builder.master("local[2]").appName("fedshare-spark-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def world():
    """Examples/marketplace/world-1.csv (100,000 records), generated once if missing."""
    path = os.path.join(MARKETPLACE, "world-1.csv")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(MARKETPLACE, "generate.py")], check=True)
    return path


def fedshare_attention(manifest, data, out):
    """`fedshare attention` on one file: (attention.csv bytes, counts.csv bytes)."""
    os.makedirs(out, exist_ok=True)
    attention, counts = os.path.join(out, "attention.csv"), os.path.join(out, "counts.csv")
    subprocess.run([FEDSHARE, "attention", "--manifest", manifest, "--data", data, "--out", attention, "--counts", counts],
                   check=True, capture_output=True)
    return read(attention), read(counts)


def spark_job(spark, manifest, data, out, **options):
    """The Spark job: (attention.csv bytes, counts.csv bytes, partial.json as a dict)."""
    import json
    fedshare_spark.run(spark, manifest, data, str(out), FEDSHARE, **options)
    with open(os.path.join(out, "partial.json")) as handle:
        partial = json.load(handle)
    return read(os.path.join(out, "attention.csv")), read(os.path.join(out, "counts.csv")), partial


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def marketplace_manifest(folder, bound):
    """The marketplace manifest with max_records_per_user = `bound`, beside copies of its files."""
    os.makedirs(folder, exist_ok=True)
    for name in ("anchors.csv", "encoder.csv"):
        with open(os.path.join(MARKETPLACE, name), "rb") as source, open(os.path.join(folder, name), "wb") as target:
            target.write(source.read())
    with open(os.path.join(MARKETPLACE, "manifest.toml")) as handle:
        text = handle.read()
    assert "max_records_per_user = 10 " in text
    path = os.path.join(folder, "manifest.toml")
    with open(path, "w") as handle:
        handle.write(text.replace("max_records_per_user = 10 ", f"max_records_per_user = {bound} "))
    return path


def records_per_user(path, user="shopper", group="segment"):
    with open(path) as handle:
        rows = csv.DictReader(handle)
        pairs = [(row[user], row[group]) for row in rows]
    return Counter(u for u, _ in pairs), dict(pairs)


# MARK: Same numbers as fedshare attention


def test_marketplace_csv_and_parquet_equal_fedshare_attention(spark, world, tmp_path):
    """No shopper over the bound (raised to 1000): Spark's output is fedshare attention's, byte
    for byte, from CSV and from the same records as Parquet, over 3 partitions."""
    manifest = marketplace_manifest(str(tmp_path / "federation"), 1000)
    expected = fedshare_attention(manifest, world, str(tmp_path / "local"))
    attention, counts, partial = spark_job(spark, manifest, world, tmp_path / "spark-csv", partitions=3)
    assert (attention, counts) == expected
    users, _ = records_per_user(world)
    assert partial["records"] == 100_000 and partial["users"] == len(users)
    assert partial["boundApplied"] == "job" and partial["maxRecordsPerUser"] == 1000 and partial["recordsDroppedByBound"] == 0

    # Parquet with typed columns (doubles): the job writes each as its shortest round-trip decimal.
    parquet = str(tmp_path / "world-1.parquet")
    frame = spark.read.csv(world, header=True, inferSchema=True)
    assert dict(frame.dtypes)["x1"] == "double"
    frame.write.parquet(parquet)
    attention, counts, _ = spark_job(spark, manifest, parquet, tmp_path / "spark-parquet")
    assert (attention, counts) == expected


def test_a_million_generated_rows_equal_fedshare_attention(spark, tmp_path):
    """1,000,000 generated records (8 features, an encoder, 6 groups, 12 anchors, a user column
    under its bound): Spark local[2] equals fedshare attention exactly."""
    rng = np.random.default_rng(15)
    folder = tmp_path / "generated"
    folder.mkdir()
    anchors = rng.normal(size=(12, 4))
    with open(folder / "anchors.csv", "w") as handle:
        handle.write("name,e1,e2,e3,e4\n")
        for index, row in enumerate(anchors):
            handle.write(f"a{index}," + ",".join(repr(float(v)) for v in row) + "\n")
    np.savetxt(folder / "encoder.csv", rng.normal(size=(8, 4)), delimiter=",", fmt="%.17g")
    groups = [f"g{k}" for k in range(6)]
    (folder / "manifest.toml").write_text(f"""
[federation]
name = "generated"
parties = [1, 2, 3]
threshold = 2
aggregator = "127.0.0.1:7443"

[attention]
anchors = "anchors.csv"
encoder = "encoder.csv"
groups = {groups!r}
group_column = "group"
user_column = "user"
max_records_per_user = 100

[privacy]
mechanism = "gaussian"
epsilon = 1.0
delta = 1e-6
unit = "user"
epsilon_budget = 10.0
delta_budget = 1e-5
""".replace("'", '"'))
    rows = 1_000_000
    users = rng.integers(0, 200_000, size=rows)
    features = rng.normal(scale=2.0, size=(rows, 8))
    labels = np.array(groups)[users % 6]
    table = np.column_stack([np.char.add("u", users.astype(str)), labels, np.char.mod("%.6f", features)])
    data = folder / "records.csv"
    with open(data, "w") as handle:
        handle.write("user,group," + ",".join(f"f{k}" for k in range(1, 9)) + "\n")
        np.savetxt(handle, table, fmt="%s", delimiter=",")
    manifest = str(folder / "manifest.toml")
    expected = fedshare_attention(manifest, str(data), str(tmp_path / "local"))
    attention, counts, partial = spark_job(spark, manifest, str(data), tmp_path / "spark")
    assert (attention, counts) == expected
    assert partial["records"] == rows and partial["users"] == len(np.unique(users))
    assert partial["recordsDroppedByBound"] == 0


def test_labels_with_commas_and_quotes_are_quoted(spark, tmp_path):
    """Group labels and user ids with a comma or a quote reach fedshare intact."""
    folder = tmp_path / "quoted"
    folder.mkdir()
    (folder / "anchors.csv").write_text("name,e1,e2\nup,1,0\ndown,0,1\n")
    manifest = BASE_MANIFEST.replace('groups = ["a", "b"]', 'groups = ["a,1", "b\\"2"]') + 'user_column = "who"\n' + PRIVACY
    (folder / "manifest.toml").write_text(manifest)
    (folder / "q.csv").write_text('who,group,f1,f2\n"x,y","a,1",1,2\n"q""r","b""2",0.5,-1\nz,"a,1",3,0\n')
    expected = fedshare_attention(str(folder / "manifest.toml"), str(folder / "q.csv"), str(tmp_path / "local"))
    attention, counts, partial = spark_job(spark, str(folder / "manifest.toml"), str(folder / "q.csv"), tmp_path / "spark")
    assert (attention, counts) == expected and partial["users"] == 3


# MARK: The bound


def test_the_bound_keeps_exactly_k_random_records_of_users_over_it(spark, world, tmp_path):
    """The marketplace's own bound (10): 2,000-odd shoppers have more. After the job's bounding
    each keeps exactly min(n, 10) records; the job's output is fedshare attention's on those very
    records; fedshare's safety net drops nothing."""
    manifest = fedshare_spark.read_manifest(os.path.join(MARKETPLACE, "manifest.toml"))
    counts, segment = records_per_user(world)
    over = [u for u, n in counts.items() if n > 10]
    assert len(over) > 1000

    # The same plan as the job's, seed and shuffle partitions included, selects the same records.
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    frame = fedshare_spark.read_input(spark, world, None)
    user, group, features = fedshare_spark.choose_columns(manifest, frame.columns, world)
    kept = fedshare_spark.bounded(frame.select(user, group, *features), user, 10, seed=20261203)
    kept_per_user = dict(kept.groupBy(user).count().collect())
    assert kept_per_user == {u: min(n, 10) for u, n in counts.items()}

    # Those records, as one CSV, through fedshare attention (nobody over the bound: all kept).
    bounded_csv = tmp_path / "bounded.csv"
    with open(bounded_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([user, group, *features])
        writer.writerows(kept.toLocalIterator())
    expected = fedshare_attention(manifest["path"], str(bounded_csv), str(tmp_path / "local"))
    attention, counts_csv, partial = spark_job(spark, manifest["path"], world, tmp_path / "spark", partitions=2, seed=20261203)
    assert (attention, counts_csv) == expected
    total = sum(min(n, 10) for n in counts.values())
    assert partial["records"] == total and partial["recordsDroppedByBound"] == 0
    assert partial["users"] == len(counts) and partial["maxRecordsPerUser"] == 10 and partial["boundApplied"] == "job"
    # Each shopper has one segment: each group's count is its shoppers' min(n, 10), exactly.
    per_group = Counter()
    for u, n in counts.items():
        per_group[segment[u]] += min(n, 10)
    rows = csv.reader(counts_csv.decode().splitlines()[1:])
    assert {g: int(n) for g, n in rows} == dict(per_group)


def test_the_subset_is_random_not_the_first_records(spark, tmp_path):
    """20 users with 30 records each, bound 3: two unseeded runs (seeds from secrets) keep
    different records, both exactly 3 per user."""
    folder = tmp_path / "heavy"
    folder.mkdir()
    (folder / "anchors.csv").write_text("name,e1,e2\nup,1,0\ndown,0,1\n")
    (folder / "manifest.toml").write_text(BASE_MANIFEST + 'user_column = "who"\nmax_records_per_user = 3\n' + PRIVACY)
    lines = ["who,group,f1,f2"] + [f"w{u},{'ab'[u % 2]},{r / 7},{(u * r) % 11 / 5}" for u in range(20) for r in range(30)]
    (folder / "heavy.csv").write_text("\n".join(lines) + "\n")
    results = [spark_job(spark, str(folder / "manifest.toml"), str(folder / "heavy.csv"), tmp_path / f"run-{k}") for k in range(2)]
    for _, counts, partial in results:
        assert counts == b"group,count\na,30\nb,30\n"
        assert partial["users"] == 20 and partial["recordsDroppedByBound"] == 0
    assert results[0][0] != results[1][0]


# MARK: Bad input


def test_a_bad_value_is_one_clear_line_and_nothing_is_written(tmp_path):
    """The job as spark-submit runs it: a feature that is not a number fails the job with one
    line naming the input, the column and the value, and leaves no output behind."""
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "anchors.csv").write_text("name,e1,e2\nup,1,0\ndown,0,1\n")
    (folder / "manifest.toml").write_text(BASE_MANIFEST + PRIVACY)
    (folder / "bad.csv").write_text("group,f1,f2\na,1,2\nb,0.5,abc\na,3,4\n")
    out = tmp_path / "out"
    environment = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    job = subprocess.run([sys.executable, fedshare_spark.__file__, "--master", "local[2]", "--manifest", str(folder / "manifest.toml"),
                          "--input", str(folder / "bad.csv"), "--out", str(out), "--fedshare", FEDSHARE],
                         capture_output=True, text=True, env=environment, timeout=300)
    assert job.returncode == 1
    last = job.stderr.strip().splitlines()[-1]
    assert last.startswith("fedshare_spark: ") and "bad.csv" in last and "column 'f2'" in last and "'abc' is not a number" in last, job.stderr
    assert not (out / "attention.csv").exists() and not (out / "partial.json").exists()


def test_missing_columns_and_files_are_named(spark, tmp_path):
    folder = tmp_path / "columns"
    folder.mkdir()
    (folder / "anchors.csv").write_text("name,e1,e2\nup,1,0\ndown,0,1\n")
    (folder / "manifest.toml").write_text(BASE_MANIFEST + PRIVACY)
    (folder / "no-f2.csv").write_text("group,f1\na,1\n")
    with pytest.raises(fedshare_spark.JobError, match="no-f2.csv: the feature column 'f2' named in the manifest is missing"):
        fedshare_spark.run(spark, str(folder / "manifest.toml"), str(folder / "no-f2.csv"), str(tmp_path / "out"), FEDSHARE)
    with pytest.raises(fedshare_spark.JobError, match="missing.toml: cannot read"):
        fedshare_spark.run(spark, str(folder / "missing.toml"), str(folder / "no-f2.csv"), str(tmp_path / "out"), FEDSHARE)
    with pytest.raises(fedshare_spark.JobError, match="nowhere.csv: cannot read as csv"):
        fedshare_spark.run(spark, str(folder / "manifest.toml"), str(folder / "nowhere.csv"), str(tmp_path / "out"), FEDSHARE)
    (folder / "unknown-group.csv").write_text("group,f1,f2\na,1,2\nzzz,1,2\n")
    with pytest.raises(fedshare_spark.JobError, match="unknown-group.csv partition .*unknown group 'zzz'"):
        fedshare_spark.run(spark, str(folder / "manifest.toml"), str(folder / "unknown-group.csv"), str(tmp_path / "out"), FEDSHARE)


BASE_MANIFEST = """[federation]
name = "test"
parties = [1, 2, 3]
threshold = 2
aggregator = "127.0.0.1:7443"

[attention]
anchors = "anchors.csv"
groups = ["a", "b"]
features = ["f1", "f2"]
group_column = "group"
"""

PRIVACY = """
[privacy]
mechanism = "gaussian"
epsilon = 1.0
delta = 1e-6
epsilon_budget = 10.0
delta_budget = 1e-5
"""
