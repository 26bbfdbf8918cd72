"""OpenAPI v3 documents and strict field validation, as kube-apiserver serves and applies them.

- `openapi_root(resources)` is the body of `GET /openapi/v3`; `openapi_document(path,
  resources)` the body of `GET /openapi/v3/api/v1` or `/openapi/v3/apis/<g>/<v>`
  (`document()` also gives the serialized bytes and hash). kubectl reads them for
  `--validate=strict` (the kind's PATCH operation must declare `fieldValidation`)
  and for `kubectl explain`.
- `check_fields(gvk, obj, mode, duplicates)` applies the
  `fieldValidation` query parameter to a create/update body: type errors are always
  a 400, unknown (and repeated) fields are a 400 (Strict), else unknown fields are
  dropped from the object with Warning texts (Warn, or "") or silently (Ignore).
  `decode_problems()` gives the raw findings for callers (patch handlers) that word
  the error differently.
- `openapi_v2(resources, accept, if_none_match)` is the reply to `GET /openapi/v2`:
  one Swagger 2.0 document of every served kind, as gnostic protobuf (what kubectl
  asks for, and needs for client-side validation of a `kind: List`) or JSON.
"""

from portico.apiserver.openapi._documents import (
    Document,
    document,
    gv_path,
    openapi_document,
    openapi_root,
    parse_gv_path,
)
from portico.apiserver.openapi._strict import (
    DecodeProblems,
    FieldValidation,
    check_fields,
    decode_problems,
    strict_decoding_message,
)
from portico.apiserver.openapi._v2 import openapi_v2, swagger_document

__all__ = [
    "DecodeProblems", "Document", "FieldValidation", "check_fields", "decode_problems",
    "document", "gv_path", "openapi_document", "openapi_root", "openapi_v2", "parse_gv_path",
    "strict_decoding_message", "swagger_document",
]
