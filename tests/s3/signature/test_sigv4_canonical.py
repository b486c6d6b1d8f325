"""Property tests: our canonical request equals botocore's for arbitrary keys and queries."""

from __future__ import annotations

from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kosha.s3.signature import parse_request_auth
from kosha.s3.signature.v4 import canonical_query, canonical_request, canonical_uri

from .helpers import ACCESS, FIXED, SECRET, frozen_time, object_url, to_wire

# Any unicode except surrogates (not encodable) and NUL-ish controls are fine in keys.
key_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
special = st.text(st.sampled_from(list("ab /+%~.-_*'()!$&=;:@,?#[]\u00e9\u65e5 \t")),
                  min_size=1, max_size=20)
keys = st.one_of(key_text, special)
# Names that switch to presigned (or SigV2) auth are refused next to an Authorization header.
_AUTH_PARAMS = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "AWSAccessKeyId"}
query_names = st.one_of(key_text, special).filter(lambda n: n not in _AUTH_PARAMS)
query_items = st.lists(st.tuples(query_names, st.one_of(st.just(""), keys)), max_size=5)


def _enc(s: str) -> str:
    return quote(s.encode("utf-8"), safe="-_.~")


def _botocore_canonical(method: str, url: str, headers: dict) -> tuple[str, AWSRequest]:
    req = AWSRequest(method=method, url=url, headers=headers)
    auth = S3SigV4Auth(Credentials(ACCESS, SECRET), "s3", "us-east-1")
    with frozen_time():
        auth.add_auth(req)
    req.context["timestamp"] = f"{FIXED:%Y%m%dT%H%M%SZ}"
    return auth.canonical_request(req), req


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=keys, items=query_items)
def test_canonical_request_matches_botocore(key, items):
    query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in items)
    url = object_url("bucket", key, query)
    theirs, req = _botocore_canonical("GET", url, {"x-amz-meta-v": " a  b "})
    w = to_wire("GET", req.url, req.headers, b"")
    signed = theirs.split("\n")[-2].split(";")
    ours = canonical_request("GET", w.raw_path, w.raw_query, w.headers, signed,
                             theirs.split("\n")[-1])
    assert ours == theirs
    auth = parse_request_auth("GET", w.raw_path, w.raw_query, w.headers)
    auth.verify(SECRET, FIXED)


@settings(max_examples=300, deadline=None)
@given(key=keys)
def test_canonical_uri_is_idempotent_and_encodes_once(key):
    path = "/b/" + quote(key.encode("utf-8"), safe="/~")
    assert canonical_uri(path) == path  # botocore's encoding is already canonical
    assert canonical_uri(canonical_uri(path)) == canonical_uri(path)
    # lowercase percent-escapes and unencoded sub-delims are normalised
    assert canonical_uri(path.lower()) == canonical_uri(canonical_uri(path.lower()))


def test_canonical_query_rules():
    assert canonical_query("b=2&a=1&a=0&c") == "a=0&a=1&b=2&c="
    assert canonical_query("prefix=a+b&x=%7e%2f") == "prefix=a%2Bb&x=~%2F"
    assert canonical_query("X-Amz-Signature=abc&a=1", exclude_signature=True) == "a=1"
    assert canonical_query("") == ""
    assert canonical_query("&&a=1&") == "a=1"
    # sorted by *encoded* name: "%" (0x25) sorts before letters
    assert canonical_query("a=1&%C3%A9=2") == "%C3%A9=2&a=1"


def test_canonical_uri_rules():
    assert canonical_uri("") == "/"
    assert canonical_uri("/b/a b") == "/b/a%20b"
    assert canonical_uri("/b/a%2fb") == "/b/a%2Fb"  # an encoded slash stays one segment
    assert canonical_uri("/b/a+b") == "/b/a%2Bb"  # '+' in a path is a plus, not a space
    assert canonical_uri("/b/../c//d/") == "/b/../c//d/"
    assert canonical_uri(b"/b/\xc3\xa9") == "/b/%C3%A9"
    assert canonical_uri("/b/é") == "/b/%C3%A9"
