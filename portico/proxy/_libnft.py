"""Small nft transactions in process, through libnftables (see libnftables(3)).

Why: with the element-only layout a partial sync is a handful of `add/delete
element` commands, which `nft` applies in well under a millisecond, yet
spawning `nft -f -` costs 10-15 ms (exec, dynamic linking, parser setup) plus
`ip netns exec` when the proxier runs outside its netns, and much more on a
loaded machine. libnftables is the library the `nft` binary is a thin shell
around; its API is a handful of calls: `nft_ctx_new`, `nft_ctx_buffer_error`,
`nft_run_cmd_from_buffer` (the same text as `nft -f -`, applied as one atomic
batch; 0 or -1), `nft_ctx_get_error_buffer` and `nft_ctx_free`.

Every call runs on one dedicated thread (ctypes releases the GIL, so the event
loop keeps going), which first enters `netns` when one is given: a netlink
socket belongs to the netns of the thread that opens it. Large transactions
(full syncs) still go through a subprocess (`apply.NftCommand`): the parser's
peak memory (~250 MB for 120k elements) would otherwise stay in this process's
heap. `load()` returns None when the library is missing; the caller then uses
the subprocess for everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
from concurrent.futures import ThreadPoolExecutor

from portico.netns import enter_netns

LIBRARY = "libnftables.so.1"
NFT_CTX_DEFAULT = 0


class LibNft:
    """One libnftables context on its own thread."""

    def __init__(self, lib: ctypes.CDLL, netns: str | None) -> None:
        self._lib = lib
        self._ctx: int | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="libnftables",
                                            initializer=self._enter, initargs=(netns,))

    @classmethod
    def load(cls, netns: str | None = None) -> LibNft | None:
        try:
            lib = ctypes.CDLL(LIBRARY, use_errno=True)
        except OSError:
            return None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        return cls(lib, netns)

    def _enter(self, netns: str | None) -> None:
        """Runs first on the worker thread: enter the netns, open the context."""
        if netns is not None:
            enter_netns(netns)
        ctx = self._lib.nft_ctx_new(NFT_CTX_DEFAULT)
        if not ctx:
            raise OSError("nft_ctx_new failed")
        self._lib.nft_ctx_buffer_output(ctx)
        self._lib.nft_ctx_buffer_error(ctx)
        self._ctx = ctx

    def _run(self, script: str) -> str | None:
        """Apply `script`; nft's error message, or None on success."""
        if self._ctx is None:
            raise OSError("libnftables context not open")
        rc = self._lib.nft_run_cmd_from_buffer(self._ctx, script.encode())
        self._lib.nft_ctx_get_output_buffer(self._ctx)  # reading resets the buffers
        error = self._lib.nft_ctx_get_error_buffer(self._ctx) or b""
        return None if rc == 0 else (error.decode(errors="replace").strip() or f"rc {rc}")

    async def run_script(self, script: str) -> str | None:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run,
                                                                script)

    def _free(self) -> None:
        if self._ctx is not None:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = None

    def close(self) -> None:
        # a thread that failed to start has nothing to free
        with contextlib.suppress(Exception):
            self._executor.submit(self._free).result()
        self._executor.shutdown(wait=True)
