"""The storage layer (utils/storage.py) on S3: the moto server of the local stack, reached through the
amazon provider's ``S3Hook`` on ``aws_default`` as in production."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_lakeops.utils import storage

pytestmark = pytest.mark.integration

BUCKET = "lakeops-storage-test"


@pytest.fixture
def s3(lakeops_stack):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    client = S3Hook(aws_conn_id="aws_default").get_conn()
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return client


def test_s3_listing_follows_the_one_rule(s3, tmp_path):
    prefix = f"t_{uuid.uuid4().hex[:8]}/silver/events"
    bodies = {
        "part-0.parquet": b"data",
        "dt=2025-10-31/part-0.parquet": b"data",
        "dt=2025-10-31/part-1.json": b"{}",
        "dt=2025-10-31/.part-0.parquet.crc": b"crc",
        "dt=2025-10-31/empty.parquet": b"",
        "_SUCCESS": b"",
        "_spark_metadata/0": b"v1",
        "_temporary/0/x.parquet": b"data",
        "nested/y.parquet": b"data",
        "dt=2025-10-31/": b"",
        "manifest.txt": b"files",
    }
    for relative, body in bodies.items():
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{relative}", Body=body)
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}1/part-0.parquet", Body=b"sibling")  # not under the folder

    files = storage.list_data_files(f"s3://{BUCKET}/{prefix}")  # a new S3Hook on aws_default
    assert [f.relative for f in files] == [
        "dt=2025-10-31/part-0.parquet",
        "dt=2025-10-31/part-1.json",
        "manifest.txt",
        "nested/y.parquet",
        "part-0.parquet",
    ]
    assert all(f.etag for f in files)
    local = tmp_path / "local"
    for relative, body in bodies.items():
        if not relative.endswith("/"):
            (local / relative).parent.mkdir(parents=True, exist_ok=True)
            (local / relative).write_bytes(body)
    assert [f.relative for f in storage.list_data_files(str(local))] == [
        f.relative for f in files
    ]  # same rule

    parquet = storage.list_data_files(f"s3a://{BUCKET}/{prefix}/", suffixes=(".parquet",), s3=s3)
    assert [(f.relative, f.partition_values) for f in parquet] == [
        ("dt=2025-10-31/part-0.parquet", {"dt": "2025-10-31"}),
        ("nested/y.parquet", None),
        ("part-0.parquet", {}),
    ]
    top = storage.list_data_files(f"s3://{BUCKET}/{prefix}/", recursive=False, s3=s3)
    assert [f.relative for f in top] == ["manifest.txt", "part-0.parquet"]

    paths = storage.download_to_folder(f"s3://{BUCKET}/{prefix}/", parquet, tmp_path / "dl", s3=s3)
    assert paths == [(tmp_path / "dl" / f.relative).resolve() for f in parquet]
    assert [p.read_bytes() for p in paths] == [b"data"] * 3


def test_s3_missing_bucket_and_empty_prefix(s3):
    with pytest.raises(FileNotFoundError, match="bucket 'lakeops-no-such-bucket' does not exist"):
        storage.list_data_files("s3://lakeops-no-such-bucket/x/", s3=s3)
    assert storage.list_data_files(f"s3://{BUCKET}/nothing-here-{uuid.uuid4().hex}/", s3=s3) == []


def test_s3_text_files(s3):
    base = f"s3://{BUCKET}/t_{uuid.uuid4().hex[:8]}/checkpoint"
    target = f"{base}/_lakeops/query.json"
    assert storage.read_text(target) is None
    assert not storage.folder_exists(base)
    assert storage.write_text(target, '{"a": 1}') == target
    storage.write_text(target, '{"a": 2}', s3=s3)
    assert storage.read_text(target, s3=s3) == '{"a": 2}'
    assert storage.folder_exists(f"{base}/_lakeops")
    assert not storage.folder_exists(f"{base}/_lake")  # a prefix of the name is not the folder
    storage.delete_file(target, s3=s3)
    assert storage.read_text(target, s3=s3) is None
