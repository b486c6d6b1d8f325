"""Authorization-header SigV4: botocore-signed requests verify; every tampering fails."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kosha.errors import Forbidden, Invalid
from kosha.s3.signature import (
    SIGNATURE_MISMATCH_MESSAGE, invalid_access_key, parse_authorization, parse_request_auth,
    verify_header_auth,
)
from kosha.s3.signature.v4 import EMPTY_SHA256, signing_key

from .helpers import ACCESS, FIXED, REGION, SECRET, SIGNERS, Wire, object_url, sign_request


def verify(w: Wire, secret: str = SECRET, now=FIXED, **kw):
    auth = parse_request_auth(w.method, w.raw_path, w.raw_query, w.headers)
    assert auth is not None
    return auth.verify(secret, now, **kw)


KEYS = ["plain.txt", "dir/sub/file", "with space", "plus+sign", "percent%41sign", "tilde~x",
        "unicode/ünïcødé/日本語", "../up/./dots", "double//slash/", "/leading", "trailing/",
        "*star(paren)'quote!bang", "=&?#;:@$,", "emoji 🎉", "a%2Fb", "%", "%zz", "  "]


@pytest.mark.parametrize("signer", SIGNERS)
@pytest.mark.parametrize("key", KEYS)
def test_botocore_signed_get_verifies(signer, key):
    w = sign_request("GET", object_url("bucket", key), signer=signer)
    s = verify(w)
    assert s.access_key == ACCESS and s.region == REGION and s.service == "s3"
    assert s.scope == f"{FIXED:%Y%m%d}/{REGION}/s3/aws4_request"
    assert s.amz_date == f"{FIXED:%Y%m%dT%H%M%SZ}"
    assert s.content_sha256 == EMPTY_SHA256
    assert s.signing_key == signing_key(SECRET, FIXED.strftime("%Y%m%d"), REGION, "s3")
    assert not s.presigned


@pytest.mark.parametrize("signer", SIGNERS)
def test_put_with_body_and_metadata(signer):
    w = sign_request("PUT", object_url("b", "k"), {"x-amz-meta-Color": "  blue   and  green ",
                                                   "Content-Type": "text/plain",
                                                   "x-amz-acl": "private"},
                     b"hello", signer=signer)
    s = verify(w)
    assert s.content_sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert "x-amz-meta-color" in s.signed_headers


@pytest.mark.parametrize("signer", SIGNERS)
@pytest.mark.parametrize("query", ["list-type=2&prefix=a%20b&delimiter=%2F",
                                   "uploads", "acl=", "versionId=abc&partNumber=3",
                                   "prefix=%E6%97%A5&max-keys=5&a=2&a=1"])
def test_query_strings(signer, query):
    w = sign_request("GET", object_url("b", "k", query), signer=signer)
    verify(w)


def test_wrong_secret_fails_with_standard_message():
    w = sign_request("GET", object_url("b", "k"))
    with pytest.raises(Forbidden) as e:
        verify(w, secret="not-the-secret")
    assert e.value.s3_code == "SignatureDoesNotMatch"
    assert e.value.message == SIGNATURE_MISMATCH_MESSAGE
    assert e.value.status == 403
    assert "CanonicalRequest" in e.value.details and "StringToSign" in e.value.details


@pytest.mark.parametrize("mutate", [
    lambda w: w.replace_header("x-amz-meta-a", "2"),
    lambda w: w.replace_header("host", "evil.example:9000"),
    lambda w: Wire(w.method, w.raw_path + b"x", w.raw_query, w.headers),
    lambda w: Wire(w.method, w.raw_path.replace(b"k", b"K"), w.raw_query, w.headers),
    lambda w: Wire(w.method, w.raw_path, w.raw_query + b"&x=1", w.headers),
    lambda w: Wire(w.method, w.raw_path, w.raw_query.replace(b"prefix=p", b"prefix=q"), w.headers),
    lambda w: Wire("DELETE", w.raw_path, w.raw_query, w.headers),
    lambda w: w.replace_header("x-amz-content-sha256", EMPTY_SHA256.replace("e", "f")),
], ids=["header", "host", "path-append", "path-case", "query-add", "query-change", "method",
        "payload-hash"])
def test_modified_request_fails(mutate):
    w = sign_request("GET", object_url("b", "k", "prefix=p"), {"x-amz-meta-a": "1"})
    verify(w)
    with pytest.raises(Forbidden) as e:
        verify(mutate(w))
    assert e.value.s3_code == "SignatureDoesNotMatch"


def test_path_is_not_normalised_or_double_encoded():
    w = sign_request("GET", object_url("b", "a/../b"))
    verify(w)
    with pytest.raises(Forbidden):  # a normalising proxy/router would break this: by design
        verify(Wire(w.method, b"/b/b", w.raw_query, w.headers))
    w = sign_request("GET", object_url("b", "100%"))
    assert w.raw_path == b"/b/100%25"
    verify(w)


def test_unsigned_amz_header_is_refused():
    w = sign_request("PUT", object_url("b", "k"), body=b"x")
    w.headers.append((b"x-amz-acl", b"public-read"))
    with pytest.raises(Forbidden) as e:
        verify(w)
    assert e.value.s3_code == "AccessDenied" and "not signed" in e.value.message


def test_unsigned_ordinary_headers_are_fine():
    w = sign_request("GET", object_url("b", "k"))
    w.headers += [(b"user-agent", b"x"), (b"accept-encoding", b"gzip"), (b"expect", b"100")]
    verify(w)


def test_repeated_header_values_join_with_commas():
    # botocore joins repeated headers the same way; build one and split it on the wire.
    w = sign_request("GET", object_url("b", "k"), {"x-amz-meta-list": "a,b"})
    hs = [(k, v) for k, v in w.headers if k != b"x-amz-meta-list"]
    hs += [(b"x-amz-meta-list", b"a"), (b"x-amz-meta-list", b"  b ")]
    verify(Wire(w.method, w.raw_path, w.raw_query, hs))


def test_non_ascii_header_bytes_are_signed_as_utf8():
    # A client that signs the text "é" and sends its UTF-8 bytes; ASGI hands us latin-1.
    w = sign_request("PUT", object_url("b", "k"), {"x-amz-meta-name": "caf\u00e9"}, b"")
    hs = [(k, v) for k, v in w.headers if k != b"x-amz-meta-name"]
    hs.append((b"x-amz-meta-name", "café".encode("utf-8")))
    verify(Wire(w.method, w.raw_path, w.raw_query, hs))


@pytest.mark.parametrize("delta", [timedelta(minutes=16), timedelta(minutes=-16)])
def test_clock_skew_over_15_minutes(delta):
    w = sign_request("GET", object_url("b", "k"))
    verify(w, now=FIXED + timedelta(minutes=14))
    with pytest.raises(Forbidden) as e:
        verify(w, now=FIXED + delta)
    assert e.value.s3_code == "RequestTimeTooSkewed"


def test_skew_checked_even_with_correct_signature_and_naive_now():
    w = sign_request("GET", object_url("b", "k"))
    verify(w, now=FIXED.replace(tzinfo=None))
    with pytest.raises(Forbidden):
        verify(w, now=(FIXED + timedelta(hours=1)).replace(tzinfo=None))


def test_date_header_instead_of_x_amz_date():
    w = sign_request("GET", object_url("b", "k"), {"Date": "whatever"})
    assert w.header("x-amz-date") is None and w.header("date").startswith("Mon, 06 May 2024")
    s = verify(w)
    assert s.amz_date == f"{FIXED:%Y%m%dT%H%M%SZ}"


def test_missing_date_is_access_denied():
    w = sign_request("GET", object_url("b", "k"))
    hs = [(k, v) for k, v in w.headers if k != b"x-amz-date"]
    with pytest.raises(Forbidden) as e:
        verify(Wire(w.method, w.raw_path, w.raw_query, hs))
    assert e.value.s3_code == "AccessDenied"


def test_region_pinning():
    w = sign_request("GET", object_url("b", "k"), region="eu-west-1")
    verify(w, region="eu-west-1")
    with pytest.raises(Invalid) as e:
        verify(w, region="us-east-1")
    assert e.value.s3_code == "AuthorizationHeaderMalformed"


def test_security_token_is_exposed():
    w = sign_request("GET", object_url("b", "k"), token="tok+/=")
    auth = parse_request_auth(w.method, w.raw_path, w.raw_query, w.headers)
    assert auth.security_token == "tok+/="
    assert auth.verify(SECRET, FIXED).security_token == "tok+/="


def test_anonymous_is_none():
    assert parse_request_auth("GET", b"/b/k", b"prefix=x", [(b"host", b"h")]) is None
    assert parse_request_auth("GET", "/b/k", "", []) is None


def test_str_inputs_and_mapping_headers():
    w = sign_request("GET", object_url("b", "k", "a=1"))
    hm: dict[str, list[str]] = {}
    for k, v in w.headers:
        hm.setdefault(k.decode(), []).append(v.decode())
    verify_header_auth("GET", w.raw_path.decode(), w.raw_query.decode(), hm, SECRET, FIXED)


def test_parse_authorization():
    a = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-date, "
        "Signature=FE5F80F77D5FA3BECA038A248FF027D0445342FE2855DDC963176630326F1024")
    assert a.access_key == "AKID" and a.date == "20130524" and a.region == "us-east-1"
    assert a.service == "s3" and a.signed_headers == ("host", "range", "x-amz-date")
    assert a.signature == "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
    assert a.scope == "20130524/us-east-1/s3/aws4_request"


SIG = "0" * 64
CRED = "Credential=AKID/20130524/us-east-1/s3/aws4_request"


@pytest.mark.parametrize("value", [
    "AWS4-HMAC-SHA256",
    f"AWS4-HMAC-SHA256 {CRED}",
    f"AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3, SignedHeaders=host, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED.replace('0524', '052')}, SignedHeaders=host, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED.replace('/s3/', '/ec2/')}, SignedHeaders=host, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=x-amz-date, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=host, Signature=abc",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=host, Signature={SIG}, Extra=1",
    f"AWS4-HMAC-SHA256 {CRED}, Credential=x, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=host;;x, Signature={SIG}",
])
def test_malformed_authorization(value):
    with pytest.raises(Invalid) as e:
        parse_authorization(value)
    assert e.value.s3_code == "AuthorizationHeaderMalformed"


def test_a_remembered_credential_still_checks_each_signature():
    """The parse of what precedes the signature is remembered: every other signature after the
    same prefix is parsed anew, and a malformed one is refused as the first one would be."""
    prefix = f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=host;x-amz-date"
    first = parse_authorization(f"{prefix}, Signature={SIG}")
    again = parse_authorization(f"{prefix}, Signature={'AB' * 32}")
    assert again.signature == "ab" * 32 and again.signed_headers == first.signed_headers
    assert (again.access_key, again.date, again.region) == ("AKID", "20130524", "us-east-1")
    for tail in ("abc", f"{SIG}, Extra=1", f"{SIG[:-1]}g", ""):
        with pytest.raises(Invalid) as e:
            parse_authorization(f"{prefix}, Signature={tail}")
        assert e.value.s3_code == "AuthorizationHeaderMalformed"
    assert parse_authorization(f"{prefix}, Signature={SIG}  ").signature == SIG


def test_signature_v2_is_refused_clearly():
    with pytest.raises(Invalid) as e:
        parse_request_auth("GET", b"/b/k", b"", [(b"authorization", b"AWS AKID:c2lnbmF0dXJl")])
    assert e.value.s3_code == "InvalidRequest" and "Version 2" in e.value.message
    with pytest.raises(Invalid) as e:
        parse_request_auth("GET", b"/b/k", b"AWSAccessKeyId=AKID&Expires=1&Signature=abc%3D", [])
    assert e.value.s3_code == "InvalidRequest" and "Version 2" in e.value.message


def test_other_schemes():
    with pytest.raises(Invalid) as e:
        parse_authorization("Bearer xyz")
    assert e.value.s3_code == "InvalidArgument"
    with pytest.raises(Invalid) as e:
        parse_authorization("AWS4-ECDSA-P256-SHA256 Credential=x")
    assert e.value.s3_code == "InvalidRequest"


def test_credential_date_must_match_request_date():
    w = sign_request("GET", object_url("b", "k"))
    w = w.replace_header("x-amz-date", "20240507T000000Z")
    with pytest.raises(Invalid) as e:
        parse_request_auth(w.method, w.raw_path, w.raw_query, w.headers)
    assert e.value.s3_code == "AuthorizationHeaderMalformed"


def test_header_and_query_auth_together_is_refused():
    w = sign_request("GET", object_url("b", "k", "X-Amz-Algorithm=AWS4-HMAC-SHA256"))
    with pytest.raises(Invalid) as e:
        parse_request_auth(w.method, w.raw_path, w.raw_query, w.headers)
    assert e.value.s3_code == "InvalidArgument"


def test_missing_content_sha256_means_empty_body():
    w = sign_request("GET", object_url("b", "k"))
    # re-sign by hand without the header: the generic SigV4 case (curl --aws-sigv4, etc.)
    from kosha.s3.signature.v4 import canonical_request, sign, string_to_sign
    hs = [(k, v) for k, v in w.headers if k not in (b"x-amz-content-sha256", b"authorization")]
    cr = canonical_request("GET", w.raw_path, w.raw_query, hs, ["host", "x-amz-date"],
                           EMPTY_SHA256)
    scope = f"{FIXED:%Y%m%d}/{REGION}/s3/aws4_request"
    sig = sign(signing_key(SECRET, f"{FIXED:%Y%m%d}", REGION, "s3"),
               string_to_sign(f"{FIXED:%Y%m%dT%H%M%SZ}", scope, cr))
    hs.append((b"authorization", f"AWS4-HMAC-SHA256 Credential={ACCESS}/{scope}, "
                                 f"SignedHeaders=host;x-amz-date, Signature={sig}".encode()))
    assert verify(Wire("GET", w.raw_path, w.raw_query, hs)).content_sha256 == EMPTY_SHA256


def test_as_sent_path_fallback_for_underencoding_clients():
    # A client that signs the literal path "/b/a(1)" (no %28/%29) still verifies.
    from kosha.s3.signature.v4 import canonical_headers, sign, string_to_sign
    w = sign_request("GET", object_url("b", "k"))
    hm: dict[str, list[str]] = {}
    for k, v in w.headers:
        hm.setdefault(k.decode(), []).append(v.decode())
    names = ["host", "x-amz-content-sha256", "x-amz-date"]
    cr = "\n".join(["GET", "/b/a(1)", "", canonical_headers(hm, names), ";".join(names),
                    EMPTY_SHA256])
    scope = f"{FIXED:%Y%m%d}/{REGION}/s3/aws4_request"
    sig = sign(signing_key(SECRET, f"{FIXED:%Y%m%d}", REGION, "s3"),
               string_to_sign(f"{FIXED:%Y%m%dT%H%M%SZ}", scope, cr))
    hs = [(k, v) for k, v in w.headers if k != b"authorization"]
    hs.append((b"authorization", f"AWS4-HMAC-SHA256 Credential={ACCESS}/{scope}, "
                                 f"SignedHeaders={';'.join(names)}, Signature={sig}".encode()))
    verify(Wire("GET", b"/b/a(1)", b"", hs))


def test_invalid_access_key_helper():
    e = invalid_access_key("NOPE")
    assert e.s3_code == "InvalidAccessKeyId" and e.status == 403
    assert e.message == "The AWS Access Key Id you provided does not exist in our records."


def test_signing_key_is_cached():
    signing_key.cache_clear()
    for _ in range(3):
        verify(sign_request("GET", object_url("b", "k")))
    info = signing_key.cache_info()
    assert info.misses == 1 and info.hits >= 2
