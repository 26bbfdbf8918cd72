"""The SPDY/3 header compression dictionary (SPDY draft 3, section 2.6.10.1).

Every SPDY/3 endpoint primes both zlib streams of a connection (one per direction,
shared by all SYN_STREAM / SYN_REPLY / HEADERS header blocks) with these 1423
bytes.  The first part is a list of header names and values, each preceded by its
length as a 32-bit big-endian integer (the same layout as a header block); the
second part is plain text of common status lines, dates and media types.  A peer
with a single byte different cannot inflate our header blocks (zlib checks the
dictionary's Adler-32, `SPDY_DICTIONARY_ID`), so the unit tests pin length and id.
"""

from __future__ import annotations

import struct
import zlib

_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type",
    "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
    "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
    "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
    "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
)

_TEXT = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
    "text/plain,text/javascript,public"
    "privatemax-age=gzip,deflate,sdch"
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)

SPDY_DICTIONARY: bytes = b"".join(
    struct.pack("!I", len(w)) + w.encode("ascii") for w in _WORDS) + _TEXT.encode("ascii")
SPDY_DICTIONARY_ID: int = zlib.adler32(SPDY_DICTIONARY)
