"""GetObject and HeadObject: conditions, ranges, part numbers, response-* overrides, and
`x-amz-expiration` when a lifecycle rule will expire the object."""

from __future__ import annotations

from functools import partial

from ..checksums import checksum_type
from ..clock import http_date
from ..errors import Invalid, NotModified
from ..ranges import parse_range
from ..services.models import ObjectVersion
from .conditions import evaluate_read
from .request import S3Request, S3Response, xml_response
from .xml import doc, el, opt

# response-* query parameters and the header each overrides.
OVERRIDES = (
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
)


def _part_range(version: ObjectVersion, part_number: int) -> tuple[int, int]:
    sizes = version.part_sizes
    if not sizes:
        if part_number != 1:
            raise Invalid("The requested partnumber is not satisfiable", s3_code="InvalidPartNumber",
                          status=416)
        return 0, version.size
    if part_number > len(sizes):
        raise Invalid("The requested partnumber is not satisfiable", s3_code="InvalidPartNumber",
                      status=416)
    start = sum(sizes[:part_number - 1])
    return start, start + sizes[part_number - 1]


def _part_checksums(version: ObjectVersion) -> dict[int, dict[str, str]]:
    """Each part's checksum of a multipart object created with an algorithm, by part number."""
    algorithm = next(iter(version.checksums), None)
    if algorithm is None or not version.part_checksums:
        return {}
    return {n: {algorithm: value} for n, value in enumerate(version.part_checksums, start=1)}


def _checksum_headers(resp: S3Response, version: ObjectVersion, part_number: int | None,
                      whole: bool) -> None:
    """With ChecksumMode=ENABLED: the object's checksum on a whole read; a part's on a read
    of one part of a multipart object (S3 answers both with the object's checksum type)."""
    if part_number is not None and version.part_sizes:
        sums = _part_checksums(version).get(part_number, {})
    else:
        sums = version.checksums if whole else {}
    for alg, value in sums.items():
        resp.add("x-amz-checksum-" + alg.lower(), value)
    if sums:
        resp.add("x-amz-checksum-type", checksum_type(version.checksums))


_ACCEPT_RANGES = (b"accept-ranges", b"bytes")


def object_headers(resp: S3Response, version: ObjectVersion, versioned: bool,
                   overrides: dict[str, str] | None = None) -> None:
    add = resp.add
    resp.headers += ((b"last-modified", http_date(version.last_modified).encode()),   # ASCII
                     (b"etag", version.quoted_etag.encode("latin-1")), _ACCEPT_RANGES)
    ctype = version.content_type or "binary/octet-stream"
    stored = version.headers
    if overrides:
        ctype = overrides.get("content-type", ctype)
        stored = {**stored, **{k: v for k, v in overrides.items() if k != "content-type"}}
    add("content-type", ctype)
    for name, value in stored.items():
        add(name, value)
    if versioned:
        add("x-amz-version-id", version.version_id)
    for name, value in version.user_meta.items():
        add("x-amz-meta-" + name, value)
    if version.storage_class and version.storage_class != "STANDARD":
        add("x-amz-storage-class", version.storage_class)
    if version.tags:
        add("x-amz-tagging-count", len(version.tags))


async def get_object(req: S3Request) -> S3Response:
    return await _get(req, head=False)


async def head_object(req: S3Request) -> S3Response:
    return await _get(req, head=True)


async def _get(req: S3Request, head: bool) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    q = req.query
    overrides: dict[str, str] | None = None
    if q:
        for param, header in OVERRIDES:
            value = q.get(param)
            if value is not None:
                if overrides is None:
                    overrides = {}
                overrides[header] = value
        if overrides and req.principal.anonymous:
            raise Invalid("Request specific response headers cannot be used for anonymous GET "
                          "requests.", s3_code="InvalidRequest")
    part_number = req.int_query("partNumber", None, lo=1, hi=10000) if q else None
    answer = partial(_answer, req, bool(bucket.versioning), head, part_number, overrides)
    resp, stream = await req.kosha.objects.get(req.principal, bucket.name, req.key,
                                               req.version_id(), answer)
    if stream is not None:
        resp.stream = stream
    return resp


async def _answer(req: S3Request, versioned: bool, head: bool, part_number: int | None,
                  overrides: dict[str, str] | None,
                  version: ObjectVersion) -> tuple[S3Response, tuple[int, int] | None]:
    """The response for `version` and the span of its blob bytes to stream, if any."""
    try:
        evaluate_read(req.headers, version)
    except NotModified:
        resp = S3Response(304)
        resp.add("etag", version.quoted_etag)
        resp.add("last-modified", http_date(version.last_modified))
        if versioned:
            resp.add("x-amz-version-id", version.version_id)
        return resp, None
    size = version.size
    status = 200
    start, end = 0, size
    if part_number is not None:
        start, end = _part_range(version, part_number)
        if version.part_sizes:
            status = 206
    else:
        rng = parse_range(req.headers.get("range"), size)
        if rng is not None:
            start, end = rng
            status = 206
    resp = S3Response(status)
    object_headers(resp, version, versioned, overrides)
    expiration = await req.kosha.lifecycle.expiration(version.bucket, version)
    if expiration is not None:
        resp.add("x-amz-expiration", expiration)
    if status == 206:
        resp.add("content-range", f"bytes {start}-{end - 1}/{size}")
    if part_number is not None and version.part_sizes:
        resp.add("x-amz-mp-parts-count", len(version.part_sizes))
    if req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        _checksum_headers(resp, version, part_number, whole=start == 0 and end == size)
    resp.add("content-length", end - start)
    if head:
        return resp, None
    if version.inline_data is not None:
        resp.body = version.inline_data[start:end] if (start or end != size) \
            else version.inline_data
        return resp, None
    return resp, ((start, end) if end > start else None)


# --------------------------------------------------------------------------- GetObjectAttributes

OBJECT_ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


def _header_int(req: S3Request, name: str, default: int) -> int:
    raw = req.headers.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise Invalid(f"Invalid {name} header", s3_code="InvalidArgument", ArgumentName=name,
                      ArgumentValue=raw)
    return value


async def get_object_attributes(req: S3Request) -> S3Response:
    """The attributes `x-amz-object-attributes` names, without the body; parts paginated by
    `x-amz-max-parts` / `x-amz-part-number-marker`."""
    bucket = await req.bucket_for()
    assert req.key is not None
    wanted = {a.strip() for v in req.hmap.get("x-amz-object-attributes", ())
              for a in v.split(",") if a.strip()}
    if not wanted:
        raise Invalid("The x-amz-object-attributes header specifying the attributes to be "
                      "retrieved is either missing or empty", s3_code="InvalidArgument",
                      ArgumentName="x-amz-object-attributes")
    for name in wanted:
        if name not in OBJECT_ATTRIBUTES:
            raise Invalid("Invalid attribute name specified.", s3_code="InvalidArgument",
                          ArgumentName="x-amz-object-attributes", ArgumentValue=name)
    max_parts = min(_header_int(req, "x-amz-max-parts", 1000), 1000)
    marker = _header_int(req, "x-amz-part-number-marker", 0)
    version = await req.kosha.objects.head(req.principal, bucket.name, req.key,
                                           req.version_id())
    children: list[str] = []
    if "ETag" in wanted:
        children.append(el("ETag", version.etag))
    if "Checksum" in wanted and version.checksums:
        sums = "".join(el("Checksum" + alg.upper(), value)
                       for alg, value in version.checksums.items())
        children.append(f"<Checksum>{sums}{el('ChecksumType', checksum_type(version.checksums))}"
                        "</Checksum>")
    if "ObjectParts" in wanted and version.part_sizes:
        sizes = version.part_sizes
        page = list(enumerate(sizes, start=1))[marker:marker + max_parts]
        truncated = marker + len(page) < len(sizes)
        part_sums = _part_checksums(version)
        parts = "".join(f"<Part>{el('PartNumber', n)}{el('Size', size)}"
                        + "".join(el("Checksum" + alg.upper(), value)
                                  for alg, value in part_sums.get(n, {}).items()) + "</Part>"
                        for n, size in page)
        children.append(
            "<ObjectParts>" + el("PartsCount", len(sizes)) + el("PartNumberMarker", marker)
            + opt("NextPartNumberMarker", page[-1][0] if page else None)
            + el("MaxParts", max_parts) + el("IsTruncated", truncated) + parts
            + "</ObjectParts>")
    if "StorageClass" in wanted:
        children.append(el("StorageClass", version.storage_class or "STANDARD"))
    if "ObjectSize" in wanted:
        children.append(el("ObjectSize", version.size))
    resp = xml_response(doc("GetObjectAttributesResponse", children))
    resp.add("last-modified", http_date(version.last_modified))
    if bucket.versioning:
        resp.add("x-amz-version-id", version.version_id)
    return resp
