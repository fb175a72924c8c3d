"""An S3 server for tests: moto in server mode on loopback (a real HTTP S3 API, reached through
django-storages and boto3 as in production), with the vault storage pointed at a fresh bucket.

Stable API (test modules import the fixture, which makes pytest use it there):

- `s3_vault` (fixture) -> the boto3 client, with `.bucket` the bucket's name
- `bucket_objects(client)` -> {key: bytes} of everything in the bucket
"""

from __future__ import annotations

import urllib.request
import uuid

import pytest
from django.core.files.storage import storages


@pytest.fixture
def s3_vault(settings):
    """A real S3 HTTP endpoint on 127.0.0.1 (moto's server), an empty bucket, and the vault pointed at it."""
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {
        "aws_access_key_id": "fig-test",
        "aws_secret_access_key": "fig-test-secret",
        "region_name": "eu-west-2",
    }
    client = boto3.client("s3", endpoint_url=endpoint, **credentials)
    client.bucket = f"fig-vault-{uuid.uuid4().hex[:12]}"  # moto keeps its state per process, not per server
    client.create_bucket(Bucket=client.bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    # The production options (fig_safety/settings.py, FIG_STORAGE=s3), pointed at the test server.
    # Overriding STORAGES makes Django drop its cached storage objects (the setting_changed signal).
    settings.STORAGES = {
        **settings.STORAGES,
        "vault": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": client.bucket,
                "endpoint_url": endpoint,
                "region_name": "eu-west-2",
                "access_key": credentials["aws_access_key_id"],
                "secret_key": credentials["aws_secret_access_key"],
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": False,
                "location": "vault",
            },
        },
    }
    assert type(storages["vault"]).__name__ == "S3Storage"
    try:
        yield client
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
        server.stop()


def bucket_objects(client) -> dict[str, bytes]:
    listing = client.list_objects_v2(Bucket=client.bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=client.bucket, Key=item["Key"])["Body"].read() for item in listing}
