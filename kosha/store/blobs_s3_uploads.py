"""Unfinished multipart uploads a crashed server left in the blob cluster, found and aborted.

obstore has no call for ListMultipartUploads, so these two requests are signed here with awscrt
(already a dependency) and sent with httpx. Only uploads under the store's prefix whose names are
blob ids, begun before the cut-off, are aborted: an upload in flight is younger than the grace
period garbage collection uses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from urllib.parse import quote, urlencode, urlsplit

import httpx
from awscrt.auth import (AwsCredentialsProvider, AwsSignatureType, AwsSignedBodyHeaderType,
                         AwsSignedBodyValue, AwsSigningAlgorithm, AwsSigningConfig, aws_sign_request)
from awscrt.http import HttpHeaders, HttpRequest

from .blob_location import S3Credentials, S3Location

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_BLOB_ID = re.compile(r"^[0-9a-f]{32}$")


def abort_stale_uploads(location: S3Location, credentials: S3Credentials, older_than: float) -> int:
    signer = _Signer(location, credentials)
    stale: list[tuple[str, str]] = []
    params = {"uploads": "", "prefix": location.prefix}
    with httpx.Client(timeout=30) as http:
        while True:
            answer = signer.send(http, "GET", "", params)
            root = ET.fromstring(answer.content)
            for upload in root.iter(f"{_NS}Upload"):
                key = upload.findtext(f"{_NS}Key") or ""
                began = datetime.fromisoformat((upload.findtext(f"{_NS}Initiated") or "")
                                               .replace("Z", "+00:00")).timestamp()
                if _BLOB_ID.match(key[len(location.prefix):]) and began < older_than:
                    stale.append((key, upload.findtext(f"{_NS}UploadId") or ""))
            if (root.findtext(f"{_NS}IsTruncated") or "false").lower() != "true":
                break
            params = {**params, "key-marker": root.findtext(f"{_NS}NextKeyMarker") or "",
                      "upload-id-marker": root.findtext(f"{_NS}NextUploadIdMarker") or ""}
        for key, upload_id in stale:
            signer.send(http, "DELETE", key, {"uploadId": upload_id}, ok=(204, 404))
    return len(stale)


class _Signer:
    def __init__(self, location: S3Location, credentials: S3Credentials) -> None:
        endpoint = location.endpoint or f"https://s3.{location.region}.amazonaws.com"
        parts = urlsplit(endpoint)
        self.base, self.host = f"{parts.scheme}://{parts.netloc}", parts.netloc
        self.bucket_path = f"{parts.path.rstrip('/')}/{location.bucket}"
        if location.virtual_hosted:
            self.host = f"{location.bucket}.{parts.netloc}"
            self.base = f"{parts.scheme}://{self.host}"
            self.bucket_path = parts.path.rstrip("/")
        provider = AwsCredentialsProvider.new_static(credentials.access_key, credentials.secret_key,
                                                     credentials.session_token)
        self.config = AwsSigningConfig(
            algorithm=AwsSigningAlgorithm.V4, signature_type=AwsSignatureType.HTTP_REQUEST_HEADERS,
            credentials_provider=provider, region=location.region, service="s3",
            signed_body_value=AwsSignedBodyValue.EMPTY_SHA256,
            signed_body_header_type=AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256)

    def send(self, http: httpx.Client, method: str, key: str, params: dict[str, str],
             ok: tuple[int, ...] = (200,)) -> httpx.Response:
        path = f"{self.bucket_path}/{quote(key, safe='/')}" if key else f"{self.bucket_path}/"
        query = urlencode(sorted(params.items()), quote_via=quote)
        target = f"{path}?{query}"
        request = HttpRequest(method, target, HttpHeaders([("host", self.host)]))
        aws_sign_request(request, self.config).result(timeout=10)
        headers = {name: value for name, value in request.headers}
        answer = http.request(method, self.base + target, headers=headers)
        if answer.status_code not in ok:
            raise RuntimeError(f"{method} uploads answered {answer.status_code}")
        return answer
