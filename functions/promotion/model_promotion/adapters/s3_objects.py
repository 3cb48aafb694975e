"""Amazon S3 behind the ObjectStore port."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ConfigurationError, InvalidPayload
from ..ports import ObjectStore
from .aws import AwsAdapter, error_code, is_transient, transient


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise InvalidPayload(f"{uri!r} is not an s3://bucket/key URI")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


class S3Objects(AwsAdapter, ObjectStore):
    def read_text(self, uri: str) -> str | None:
        bucket, key = split_s3_uri(uri)
        try:
            body = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) in {"NoSuchKey", "404"}:
                return None
            if is_transient(exc):
                raise transient("GetObject", exc) from exc
            raise ConfigurationError(f"cannot read {uri}: {error_code(exc)}") from exc
        return body.decode("utf-8")

    def write_text(self, uri: str, text: str, content_type: str) -> None:
        bucket, key = split_s3_uri(uri)
        try:
            self.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                raise transient("PutObject", exc) from exc
            raise ConfigurationError(f"cannot write {uri}: {error_code(exc)}") from exc
