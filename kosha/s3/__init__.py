"""The S3 endpoint (`kosha serve --s3-port`, default 9000) over the same buckets and objects as
the KOS REST API.

Layout (like Garage's `src/api/s3`): `app.py` is a raw ASGI app (parse → address → route →
authenticate → one handler → send); `router.py` maps method, path/Host and query subresources to
an operation; `error.py` is the one place domain errors become S3 XML; `auth.py` glues the
signature verifiers in `signature/` (V4, V2) to access keys; one module per family of operations.

Choices where S3 leaves room or Kosha differs (the behaviour clients see):

- Addressing: path style always; virtual-hosted style (`<bucket>.<domain>`) when `--s3-domain`
  is set.
- Authentication: SigV4 header and pre-signed (query) auth, aws-chunked uploads (signed chunks,
  unsigned and signed trailers), `x-amz-content-sha256`, `Content-MD5`, `x-amz-checksum-*`.
  Signature V2 too (`Authorization: AWS key:signature`, `AWSAccessKeyId`/`Expires`/`Signature`
  URLs, POST form policies with `AWSAccessKeyId`/`signature`), with V4's time rules (15 minutes
  of skew, `Request has expired`); V2 signs no payload, so a V2 body is checked only by the
  digests its headers carry. The signing region is not checked: clients configured for
  `us-east-1` work as well as ones configured with a Kosha region name. With `--tls-cert`,
  `S3Request.secure` is true (policies' `aws:SecureTransport`).
- Regions: `LocationConstraint` naming a configured region puts the bucket there; any other
  value (an AWS region name from a client configured for AWS) uses the default region.
  `GetBucketLocation` answers the bucket's Kosha region.
- Owners: the canonical user ID of a bucket or object owner is the owning user's `kcid`; it is
  also the DisplayName.
- ACLs: canned ACLs only (`private`, `public-read`, `public-read-write`, `authenticated-read`;
  objects also `bucket-owner-read`, `bucket-owner-full-control`, `aws-exec-read`). A bucket's
  `public-read`/`public-read-write` is its `anonymous_access`: anyone (anonymous clients and
  other accounts' users; `authenticated-read`: any authenticated user) may then list it and
  read its objects that have no ACL of their own; `public-read-write` also lets anyone write
  objects. An object's own ACL decides reads of it: `public-read` is readable even in a private
  bucket, an explicit `private` is not, even in a public one. Whoever wrote an object owns it
  (and may read it and its ACL). Refusals on a bucket shared with the caller are 403; another
  account's private bucket stays a 404 for other tenants (DESIGN.md). An AccessControlPolicy
  document is accepted when it is equivalent to a canned ACL; grants to unknown user ids are
  `InvalidArgument`, grants by e-mail `UnresolvableGrantByEmailAddress` (users have no
  addresses); other explicit grants (`x-amz-grant-*`, other grantees) are NotImplemented.
- Buckets: creating a bucket you already own is 409 `BucketAlreadyOwnedByYou` (S3 outside
  us-east-1).
- Conditional writes: `If-None-Match` (`*` or ETags) and `If-Match` (ETags or `*`) on PUT and
  CompleteMultipartUpload; `If-Match` with no current object (or a delete marker) is 404
  `NoSuchKey`, as S3 answers.
- Versions: writes to an unversioned or suspended bucket make the `null` version and answer
  no `x-amz-version-id`.
- Multipart: a retried CompleteMultipartUpload of an upload that already completed answers the
  object those parts made. GET/HEAD with `partNumber` answers that part's bytes (206,
  `Content-Range`, `x-amz-mp-parts-count`) with the object's ETag, as S3 does; part 1 of a
  single-part object is the whole object; a part past the last is 416 `InvalidPartNumber`.
- Lifecycle: S3 lifecycle configurations are the KOS lifecycle rules (ID ↔ name, prefix
  filters, expiration days, expired delete markers, noncurrent expiration, aborting incomplete
  uploads). Transitions, date-based expiry and tag/size filters are NotImplemented.
- CORS rules are stored on the bucket in S3's vocabulary; preflight needs no credentials; an
  actual request is matched on its own method (Access-Control-Request-Method is for preflights).
- Listings: `encoding-type=url` encodes keys like S3 (`quote(key, safe="/-_.~")`); v2
  continuation tokens are opaque (base64 of the last key or prefix returned); an empty
  `continuation-token` lists from the start. ListObjects (v1) echoes `Prefix` unencoded (S3
  encodes keys, Marker, NextMarker and Delimiter there; botocore decodes exactly those).
- Not implemented (standard `NotImplemented` error, 501): server-side encryption, object lock,
  website, logging, notification, replication, bucket policies as JSON documents (Kosha's bucket
  policies are the KOS address allow-lists), public access blocks, policy status, inventory,
  analytics, metrics, select, restore, torrent.
"""
