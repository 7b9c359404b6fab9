"""Tempo's S3 storage as tracestack reaches it: the settings Tempo runs with (``storage.trace.s3`` of its config),
its bucket made before Tempo starts, and the blocks Tempo wrote under a tenant's prefix.

Tempo 2.x writes a block as ``<bucket>/[<prefix>/]<tenant>/<block uuid>/`` holding ``data.parquet``, ``index``,
``bloom-N`` and, last, ``meta.json`` (shared/notes/tempo-facts.md, measured on Tempo 2.10.8 with versitygw); a
block without ``meta.json`` is still being written. tracestack's own requests always address the bucket in its
path: what the profile tests is Tempo's addressing, not tracestack's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pytest_tracestack.configs.dotted import dotted_get
from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.errors import TracestackError

# Tempo's tenant when multitenancy is off (every push without X-Scope-OrgID).
SINGLE_TENANT = "single-tenant"
COMPLETE_MARK = "meta.json"  # written last: a block with it is complete


class ObjectStoreError(TracestackError):
    """The S3 server refused or did not answer; the message names the bucket, the endpoint and the S3 error."""


@dataclass(frozen=True)
class S3Settings:
    endpoint: str  # host:port, as Tempo's config names it
    bucket: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    insecure: bool = False  # plain HTTP
    prefix: str = ""
    region: str = ""

    @classmethod
    def from_tempo_config(cls, config: Any) -> S3Settings | None:
        """The S3 settings of a Tempo config whose ``storage.trace.backend`` is s3, else None."""
        if not isinstance(config, dict) or dotted_get(config, "storage.trace.backend") != "s3":
            return None
        s3 = dotted_get(config, "storage.trace.s3") or {}
        return cls(
            endpoint=str(s3.get("endpoint") or ""),
            bucket=str(s3.get("bucket") or ""),
            access_key=str(s3.get("access_key") or ""),
            secret_key=str(s3.get("secret_key") or ""),
            insecure=bool(s3.get("insecure")),
            prefix=str(s3.get("prefix") or "").strip("/"),
            region=str(s3.get("region") or ""),
        )

    @property
    def url(self) -> str:
        return f"{'http' if self.insecure else 'https'}://{self.endpoint}"

    def reached_at(self, endpoint: str) -> S3Settings:
        """The same bucket through another address (a port-forward to the server Tempo reaches by its Service)."""
        return replace(self, endpoint=endpoint)

    def describe(self) -> str:
        return f"bucket {self.bucket} at {self.url}"

    def tenant_prefix(self, tenant: str) -> str:
        return "/".join(part for part in (self.prefix, tenant) if part) + "/"


@dataclass(frozen=True)
class StoredBlock:
    block_id: str
    objects: tuple[str, ...]  # object names under the block's prefix: meta.json, data.parquet, ...

    @property
    def complete(self) -> bool:
        return COMPLETE_MARK in self.objects


def make_bucket(settings: S3Settings) -> bool:
    """Create the bucket through the S3 API; True when made, False when it was already there."""
    from botocore.exceptions import ClientError

    try:
        s3_client(settings).create_bucket(Bucket=settings.bucket)
    except ClientError as error:
        if _code(error) in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            return False
        raise _failure(f"could not make {settings.describe()}", error) from None
    except Exception as error:  # botocore's connection and parameter errors share no base but Exception
        raise _failure(f"could not make {settings.describe()}", error) from None
    return True


def list_blocks(settings: S3Settings, tenant: str = SINGLE_TENANT) -> dict[str, StoredBlock]:
    """Every block under the tenant's prefix, by block id (objects right under the prefix, such as Tempo's
    tenant index, are not blocks)."""
    prefix = settings.tenant_prefix(tenant)
    found: dict[str, list[str]] = {}
    try:
        pages = s3_client(settings).get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                block, _, name = item["Key"][len(prefix) :].partition("/")
                if name:
                    found.setdefault(block, []).append(name)
    except Exception as error:
        raise _failure(f"could not list {prefix} in {settings.describe()}", error) from None
    return {block: StoredBlock(block, tuple(sorted(names))) for block, names in found.items()}


def s3_client(settings: S3Settings) -> Any:
    """A boto3 S3 client for the bucket's server, addressing the bucket in the path."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.url,
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        region_name=settings.region or "us-east-1",
        config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=15, retries={"max_attempts": 2}),
    )


def _code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _failure(what: str, error: Exception) -> ObjectStoreError:
    said = f"{_code(error)}: {error}" if _code(error) else f"{type(error).__name__}: {error}"
    return ObjectStoreError(redact(f"{what}: {said}"))
