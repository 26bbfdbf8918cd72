"""The `RuntimeDefault` seccomp profile for image containers (pure data).

containerd's default profile is an allow-list of some 350 system calls with
argument filters.  Portico ships its complement as a deny-list instead: the calls
that profile leaves out for a container without extra capabilities (kernel
modules, keyrings, mount and namespace changes, ptrace and cross-process memory,
clock and reboot, BPF and perf, userfaultfd...) fail with EPERM, everything else is
allowed.  Not covered: containerd's argument filters (`clone` with namespace flags,
`personality`, `socket` families), and calls it allows only with a capability the
container does not have anyway.
"""

from __future__ import annotations

from typing import Any

EPERM = 1
DENIED = [
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
    "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
    "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount",
    "mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
    "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root",
    "process_vm_readv", "process_vm_writev", "ptrace", "query_module", "quotactl",
    "quotactl_fd", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday",
    "stime", "swapoff", "swapon", "sysfs", "_sysctl", "umount", "umount2", "unshare",
    "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
]


def runtime_default() -> dict[str, Any]:
    """linux.seccomp of config.json."""
    return {"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                              "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
            "syscalls": [{"names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM}]}


def profile_for(security: dict[str, Any]) -> dict[str, Any] | None:
    """The profile the merged securityContext asks for (RuntimeDefault), else None
    (Unconfined, Kubernetes' default, and Localhost, which Portico does not load)."""
    kind = (security.get("seccompProfile") or {}).get("type")
    return runtime_default() if kind == "RuntimeDefault" else None
