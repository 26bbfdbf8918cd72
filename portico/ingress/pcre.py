"""Whether PCRE2 compiles a regex the way nginx and HAProxy would (pure; ctypes, no I/O).

`canary-by-header-pattern` is matched by nginx with `ngx.re.match` (PCRE,
no options: unanchored, case-sensitive) and rendered here as HAProxy's
`-m reg`, which is PCRE2 too (Debian's haproxy is built with USE_PCRE2 and
USE_PCRE2_JIT). HAProxy compiles `-m reg` patterns with PCRE2_NO_AUTO_CAPTURE
and JIT-compiles them, and refuses the whole configuration when either fails,
so a pattern is checked here with the very library HAProxy links
(libpcre2-8), with the same options, before it is rendered:

- `nginx_error(p)`: PCRE2's message when it cannot compile `p` at all (nginx
  then fails every match at request time), else None;
- `haproxy_error(p)`: the message when HAProxy's options refuse `p` (e.g. a
  numbered back-reference, which needs automatic capture), else None.

Without libpcre2-8 on the machine, Python's `re` stands in (close, not exact).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from functools import cache

NO_AUTO_CAPTURE = 0x00002000   # PCRE2_NO_AUTO_CAPTURE
JIT_COMPLETE = 0x00000001      # PCRE2_JIT_COMPLETE
ERROR_JIT_BADOPTION = -45      # PCRE2_ERROR_JIT_BADOPTION: no JIT here; HAProxy carries on


def _load() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libpcre2-8.so.0")
    except OSError:
        name = ctypes.util.find_library("pcre2-8")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


@cache
def _library() -> ctypes.CDLL | None:
    lib = _load()
    if lib is None:
        return None
    lib.pcre2_compile_8.restype = ctypes.c_void_p
    lib.pcre2_compile_8.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32,
                                    ctypes.POINTER(ctypes.c_int),
                                    ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p]
    lib.pcre2_jit_compile_8.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.pcre2_code_free_8.argtypes = [ctypes.c_void_p]
    lib.pcre2_get_error_message_8.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    return lib


def _message(lib: ctypes.CDLL, code: int) -> str:
    buffer = ctypes.create_string_buffer(256)
    lib.pcre2_get_error_message_8(code, buffer, len(buffer))
    return buffer.value.decode("utf-8", "replace")


def _compile(pattern: str, options: int, jit: bool) -> str | None:
    lib = _library()
    if lib is None:
        try:
            re.compile(pattern)
        except re.error as exc:
            return str(exc)
        return None
    raw = pattern.encode()
    code, offset = ctypes.c_int(0), ctypes.c_size_t(0)
    compiled = lib.pcre2_compile_8(raw, len(raw), options, ctypes.byref(code),
                                   ctypes.byref(offset), None)
    if not compiled:
        return f"{_message(lib, code.value)} at offset {offset.value}"
    try:
        status = lib.pcre2_jit_compile_8(compiled, JIT_COMPLETE) if jit else 0
        if status not in (0, ERROR_JIT_BADOPTION):
            return f"JIT compilation failed: {_message(lib, status)}"
    finally:
        lib.pcre2_code_free_8(compiled)
    return None


def nginx_error(pattern: str) -> str | None:
    """Why PCRE cannot compile `pattern` with no options (as `ngx.re.match`), or None."""
    return _compile(pattern, 0, jit=False)


def haproxy_error(pattern: str) -> str | None:
    """Why HAProxy would refuse `pattern` after `-m reg`, or None."""
    return _compile(pattern, NO_AUTO_CAPTURE, jit=True)
