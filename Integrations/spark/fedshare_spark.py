#!/usr/bin/env python3
"""One world's local attention on Apache Spark, computed by fedshare itself on every executor.

    spark-submit fedshare_spark.py --manifest federation/manifest.toml \\
        --input s3a://lake/visits/ --out attention-out/ [--fedshare PATH] [--partitions N]

Steps: read the input (CSV with a header, or Parquet) and take the columns the manifest names;
enforce max_records_per_user across the whole dataset (a uniformly random subset of each user's
records: row_number over a window per user, ordered by rand(seed), the seed drawn from Python's
`secrets`); hash-partition by user; pipe each partition as CSV through
`fedshare attention --data - --partial-out -` (exact sums on the grid 2^-52); collect the
per-partition partial results and add them up with `fedshare attention --merge`, which writes
--out/attention.csv, --out/counts.csv (exactly `fedshare attention`'s format and numbers) and
--out/partial.json (for `fedshare party --precomputed`). See README.md beside this file.

Errors: one line on standard error, `fedshare_spark: <file or partition>: <problem>`, exit 1.
"""
import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import tomllib

ERROR_MARK = "fedshare-error:"
RANK = "__fedshare_rank"


class JobError(Exception):
    """A problem stated in one line for the user."""


# MARK: The manifest's columns


def read_manifest(path):
    """The [attention] table's column settings and the files the executors need."""
    name = os.path.basename(path)
    try:
        with open(path, "rb") as handle:
            manifest = tomllib.load(handle)
    except FileNotFoundError:
        raise JobError(f"{path}: cannot read: no such file")
    except tomllib.TOMLDecodeError as error:
        raise JobError(f"{name}: TOML syntax error: {error}")
    attention = manifest.get("attention")
    if not isinstance(attention, dict):
        raise JobError(f"{name}: field 'attention': missing; expected an [attention] table")
    files = [attention[key] for key in ("anchors", "encoder") if isinstance(attention.get(key), str)]
    user = attention.get("user_column")
    return {
        "path": os.path.abspath(path),
        "features": attention.get("features"),
        "group": attention.get("group_column", "group"),
        "user": user,
        "bound": attention.get("max_records_per_user") if user else None,
        "ignore": attention.get("ignore_columns", []),
        # Relative to the manifest's folder: shipped beside it to the executors.
        "files": files,
    }


def choose_columns(manifest, available, input_name):
    """(user or None, group, features): the columns piped to fedshare, in the order it reads
    them; without a `features` list, every column but the group, user and ignored ones, in the
    input's order (as `fedshare attention` chooses them)."""
    group, user = manifest["group"], manifest["user"]
    for role, column in (("group", group), ("user", user)):
        if column is not None and column not in available:
            raise JobError(f"{input_name}: the {role} column '{column}' named in the manifest is missing "
                           f"(columns: {', '.join(available)})")
    if manifest["features"] is not None:
        features = list(manifest["features"])
        for column in features:
            if column not in available:
                raise JobError(f"{input_name}: the feature column '{column}' named in the manifest is missing "
                               f"(columns: {', '.join(available)})")
    else:
        excluded = {group, user, *manifest["ignore"]}
        features = [c for c in available if c not in excluded]
    return user, group, features


# MARK: The Spark job


def read_input(spark, path, fmt):
    """The input as a DataFrame: CSV (header, every column a string, read verbatim) or Parquet."""
    from pyspark.sql.utils import AnalysisException
    fmt = fmt or ("parquet" if path.rstrip("/").lower().endswith(".parquet") else "csv")
    try:
        if fmt == "parquet":
            return spark.read.parquet(path)
        # Strings, not inferred numbers: fedshare parses the very text `fedshare attention`
        # would. FAILFAST: a row with the wrong number of fields is an error, never padded.
        return spark.read.csv(path, header=True, inferSchema=False, mode="FAILFAST", escape='"')
    except AnalysisException as error:
        first = str(error).strip().splitlines()[0]
        raise JobError(f"{path}: cannot read as {fmt}: {first}")


def bounded(df, user, limit, seed):
    """At most `limit` records per user: a uniformly random subset of each user's records
    (row_number over the user's records ordered by rand(seed)), across the whole dataset."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    window = Window.partitionBy(F.col(user)).orderBy(F.rand(seed))
    return df.withColumn(RANK, F.row_number().over(window)).where(F.col(RANK) <= limit).drop(RANK)


def csv_line(columns, types, labels):
    """Each row as one CSV line (RFC 4180). Numbers are written as Java's shortest decimal that
    reads back to the same double, strings verbatim, null as an empty field (which fedshare
    reports). Quoting every field costs a regular expression per field, so a row is quoted only
    when a label has a comma, quote or line break, or any field a quote or line break (a comma
    in a number changes the column count, which fedshare reports)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType, StringType
    fields = {}
    for column in columns:
        value = F.col(column)
        if isinstance(types[column], NumericType):
            value = value.cast("double").cast("string")
        elif not isinstance(types[column], StringType):
            value = value.cast("string")
        fields[column] = F.coalesce(value, F.lit(""))
    plain = F.concat_ws(",", *fields.values())
    quoted = F.concat_ws(",", *[F.concat(F.lit('"'), F.regexp_replace(f, '"', '""'), F.lit('"')) for f in fields.values()])
    label_text = F.concat_ws("", *[fields[c] for c in labels])
    return F.when(label_text.rlike('[",\r\n]') | plain.rlike('["\r\n]'), quoted).otherwise(plain)


def header_field(name):
    return '"' + name.replace('"', '""') + '"' if re.search(r'[",\r\n]', name) else name


def stage(manifest, fedshare, folder):
    """An archive for the executors (SparkContext.addArchive, unpacked on every node): the
    manifest, the files it names at the same relative paths (so its hash is unchanged), and the
    fedshare executable. Uniquely named, so jobs in one Spark context never collide."""
    import tarfile
    base = os.path.dirname(manifest["path"])
    archive = os.path.join(folder, f"fedshare-job-{secrets.token_hex(8)}.tar")
    with tarfile.open(archive, "w") as tar:
        tar.add(manifest["path"], arcname=os.path.basename(manifest["path"]))
        for name in manifest["files"]:
            relative = os.path.relpath(os.path.join(base, name), base)
            if os.path.isabs(name) or relative.startswith(".."):
                raise JobError(f"{os.path.basename(manifest['path'])}: '{name}' is outside the manifest's folder, so it "
                               f"cannot be shipped beside it; install the files on every node and pass --fedshare-on-executors")
            tar.add(os.path.join(base, name), arcname=relative)
        tar.add(fedshare, arcname="fedshare")
    return archive


def pipe_partitions(command, archive, header):
    """The function run on every partition: the header and its rows (a partition of no rows
    starts no process) through `fedshare attention --data -`.
    `command` is [fedshare, manifest]: paths inside the shipped archive when `archive` is set."""
    def run(index, rows):
        rows = iter(rows)
        first = next(rows, None)
        if first is None:
            return
        binary, manifest = command
        if archive:
            from pyspark import SparkFiles
            root = SparkFiles.get(archive)
            binary, manifest = os.path.join(root, binary), os.path.join(root, manifest)
            if not os.access(binary, os.X_OK):
                os.chmod(binary, 0o755)
        arguments = [binary, "attention", "--manifest", manifest, "--data", "-", "--partial-out", "-", "--workers", "1"]
        try:
            process = subprocess.Popen(arguments, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as error:
            raise RuntimeError(f"{ERROR_MARK}cannot run {binary}: {error.strerror}{ERROR_MARK}")
        try:
            batch = [header, first[0]]
            for row in rows:
                batch.append(row[0])
                if len(batch) >= 8192:
                    process.stdin.write(("\n".join(batch) + "\n").encode())
                    batch = []
            process.stdin.write(("\n".join(batch) + "\n").encode())
            process.stdin.close()
        except BrokenPipeError:
            pass  # fedshare stopped early: its error is on stderr
        output = process.stdout.read()
        errors = process.stderr.read().decode(errors="replace").strip()
        if process.wait() != 0:
            line = errors.splitlines()[-1] if errors else f"exit status {process.returncode}"
            raise RuntimeError(f"{ERROR_MARK}partition {index}: {line.removeprefix('Error: ')}{ERROR_MARK}")
        yield (output.decode(), errors)
    return run


def run(spark, manifest_path, input_path, out, fedshare, partitions=None, fmt=None, seed=None, ship=True):
    """The whole job; returns the merged partial result's path. `seed` exists for tests: the
    production seed is drawn from `secrets`."""
    manifest = read_manifest(manifest_path)
    if __name__ != "__main__":  # imported (tests, notebooks): the executors import this module too
        spark.sparkContext.addPyFile(os.path.abspath(__file__))
    if shutil.which(fedshare) is None:
        raise JobError(f"{fedshare}: no fedshare executable there (--fedshare PATH; build it with swift build -c release)")
    fedshare = shutil.which(fedshare)
    df = read_input(spark, input_path, fmt)
    user, group, features = choose_columns(manifest, df.columns, input_path)
    columns = ([user] if user else []) + [group] + features
    header = ",".join(header_field(c) for c in columns)
    preflight(fedshare, manifest["path"], header)

    types = dict((f.name, f.dataType) for f in df.schema.fields)
    from pyspark.sql import functions as F
    # Lines first: the shuffle below then moves two columns (user, line), not every field
    # (measured: a fifth less time at the marketplace's shape).
    lines = df.select(*([F.col(user)] if user else []), csv_line(columns, types, [c for c in (user, group) if c]).alias("line"))
    partitions = partitions or spark.sparkContext.defaultParallelism
    if user:
        # The window shuffles by user into `partitions` partitions, so each user's records end
        # in one partition: the bound holds there too (fedshare's safety net drops nothing) and
        # the partitions' distinct users add up to the dataset's.
        spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
        if manifest["bound"]:
            lines = bounded(lines, user, manifest["bound"], seed if seed is not None else secrets.randbits(63))
        else:
            lines = lines.repartition(partitions, user)
    else:
        lines = lines.repartition(partitions)
    lines = lines.select("line")

    with tempfile.TemporaryDirectory(prefix="fedshare-spark-") as scratch:
        if ship:
            archive = os.path.basename(stage(manifest, fedshare, scratch))
            spark.sparkContext.addArchive(os.path.join(scratch, archive))
            command = ["fedshare", os.path.basename(manifest["path"])]
        else:
            archive, command = None, [fedshare, manifest["path"]]
        try:
            results = lines.rdd.mapPartitionsWithIndex(pipe_partitions(command, archive, header)).collect()
        except Exception as error:  # Spark wraps the executor's exception; find fedshare's line in it.
            found = re.search(re.escape(ERROR_MARK) + "(.*?)" + re.escape(ERROR_MARK), str(error), re.S)
            if found:
                raise JobError(f"{input_path} {found.group(1)}")
            raise JobError(f"{input_path}: the Spark job failed: {str(error).strip().splitlines()[0]}")
    if not results:
        raise JobError(f"{input_path}: no records")
    for _, warning in results:
        if warning:
            print(f"fedshare_spark: {warning}", file=sys.stderr)
    return merge(fedshare, manifest["path"], [text for text, _ in results], out, counted_users(results) if user else None)


def preflight(fedshare, manifest, header):
    """fedshare reads the manifest and the header (no records) on the driver first, so a bad
    manifest or column set fails once, clearly, before any executor starts."""
    check = subprocess.run([fedshare, "attention", "--manifest", manifest, "--data", "-", "--partial-out", "-"],
                           input=(header + "\n").encode(), capture_output=True)
    if check.returncode != 0:
        lines = check.stderr.decode(errors="replace").strip().splitlines() or [f"exit status {check.returncode}"]
        raise JobError(lines[-1].removeprefix("Error: "))


def counted_users(results):
    """Distinct users: each partition holds whole users (partitioned by user), so the
    partitions' counts add up."""
    import json
    return sum(json.loads(text)["users"] for text, _ in results)


def merge(fedshare, manifest, partials, out, users):
    """Adds the partitions' partial results with `fedshare attention --merge` into --out."""
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fedshare-spark-") as scratch:
        paths = []
        for index, text in enumerate(partials):
            paths.append(os.path.join(scratch, f"partition-{index:05d}.json"))
            with open(paths[-1], "w") as handle:
                handle.write(text)
        command = [fedshare, "attention", "--manifest", manifest, "--merge", *paths,
                   "--out", os.path.join(out, "attention.csv"), "--counts", os.path.join(out, "counts.csv"),
                   "--partial-out", os.path.join(out, "partial.json")]
        if users is not None:
            command += ["--users", str(users)]
        merged = subprocess.run(command, capture_output=True)
        if merged.returncode != 0:
            lines = merged.stderr.decode(errors="replace").strip().splitlines() or [f"exit status {merged.returncode}"]
            raise JobError(lines[-1].removeprefix("Error: "))
    return os.path.join(out, "partial.json")


def main(argv=None):
    parser = argparse.ArgumentParser(description="One world's local attention on Spark, by fedshare on every executor.")
    parser.add_argument("--manifest", required=True, help="the federation manifest (TOML), a local path on the driver")
    parser.add_argument("--input", required=True, help="the records: a CSV file or folder with a header, or Parquet (any URI Spark reads)")
    parser.add_argument("--format", choices=["csv", "parquet"], help="default: parquet for a path ending in .parquet, else csv")
    parser.add_argument("--out", required=True, help="local folder for attention.csv, counts.csv and partial.json")
    parser.add_argument("--fedshare", default="fedshare", help="the fedshare executable on the driver (default: fedshare on PATH)")
    parser.add_argument("--fedshare-on-executors", action="store_true",
                        help="use --fedshare and --manifest at the same paths on every node instead of shipping them (SparkContext.addArchive)")
    parser.add_argument("--partitions", type=int, help="partitions, one fedshare process each (default: Spark's default parallelism)")
    parser.add_argument("--master", help="Spark master when run without spark-submit (e.g. local[2])")
    args = parser.parse_args(argv)
    if args.partitions is not None and args.partitions < 1:
        parser.error("--partitions must be at least 1")
    from pyspark.sql import SparkSession
    builder = SparkSession.builder.appName("fedshare-attention").config("spark.ui.showConsoleProgress", "false")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        partial = run(spark, args.manifest, args.input, args.out, args.fedshare, args.partitions, args.format,
                      ship=not args.fedshare_on_executors)
    except JobError as error:
        print(f"fedshare_spark: {error}", file=sys.stderr)
        return 1
    finally:
        spark.stop()
    print(f"fedshare_spark: {args.out}/attention.csv, counts.csv and {os.path.basename(partial)} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
