"""FakeNft keeps the kernel's semantics: validation on add, atomic transactions, busy objects."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest
from proxy_builders import World, endpoint, endpoint_slice, port, service

from portico.proxy.apply import IN_PROCESS_MAX_OPERATIONS, NftCommand, NftError
from portico.proxy.nftables import Chain, Element, Family, Map, Rule, Table, Transaction
from portico.testing.nft import FakeNft


def _tx() -> Transaction:
    return Transaction(Family.INET, "t")


@pytest.mark.parametrize("obj", [
    pytest.param(Chain("1bad"), id="chain name must start with a letter"),
    pytest.param(Chain("c", hook=None, priority="0"), id="base chain needs type+hook+priority"),
    pytest.param(Rule("c", "drop\naccept"), id="one rule, one line"),
    pytest.param(Element("m", ()), id="element needs a key"),
    pytest.param(Table(comment='a "quoted" comment'), id="comment quoting"),
])
def test_invalid_objects_are_refused_when_added(obj: object) -> None:
    with pytest.raises(ValueError):
        _tx().add(obj)  # type: ignore[arg-type]


def _base() -> FakeNft:
    nft = FakeNft()
    tx = _tx()
    tx.add(Table())
    tx.add(Chain("a"))
    tx.add(Chain("b"))
    tx.add(Map("m", "inet_service : verdict"))
    tx.add(Rule("a", "jump b"))
    tx.add(Element("m", ("80",), ("goto b",)))
    nft.apply(tx)
    return nft


@pytest.mark.parametrize(("ops", "error"), [
    pytest.param([("delete", Chain("b"))], "busy", id="delete referenced chain"),
    pytest.param([("flush", Chain("a")), ("delete", Chain("b"))], "busy",
                 id="still referenced by a map element"),
    pytest.param([("add", Element("m", ("80",), ("goto a",)))], "exists",
                 id="element key with another value"),
    pytest.param([("delete", Element("m", ("81",)))], "No such file", id="missing element"),
    pytest.param([("add", Rule("zzz", "accept"))], "No such file", id="rule in missing chain"),
    pytest.param([("add", Rule("a", "goto zzz"))], "No such file", id="jump to missing chain"),
])
def test_failed_transactions_change_nothing(ops: list, error: str) -> None:
    nft = _base()
    before = nft.dump("inet", "t")  # type: ignore[arg-type]
    tx = _tx()
    tx.add(Chain("new"))
    for verb, obj in ops:
        getattr(tx, verb)(obj)
    with pytest.raises(NftError, match=error):
        nft.apply(tx)
    assert nft.dump(Family.INET, "t") == before


def test_delete_after_removing_references_succeeds() -> None:
    nft = _base()
    tx = _tx()
    tx.flush(Chain("a"))
    tx.delete(Element("m", ("80",)))
    tx.delete(Chain("b"))
    nft.apply(tx)
    assert nft.dump(Family.INET, "t") == (
        "add table inet t\n"
        "add chain inet t a\n"
        "add map inet t m { type inet_service : verdict ; }\n")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft")
def test_real_nft_accepts_full_and_partial_syncs() -> None:
    """Parse-validate (nft -c) and apply a rendered ruleset in a throwaway netns."""
    ns = f"portico-t-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        def nft(script: str, *flags: str) -> None:
            result = subprocess.run(["ip", "netns", "exec", ns, "nft", *flags, "-f", "-"],
                                    input=script, text=True, capture_output=True)
            assert result.returncode == 0, result.stderr

        w = World()
        w.apply_service(service("ns", "a", "10.0.0.1", [port(80, nodePort=30001)],
                                type="LoadBalancer", externalTrafficPolicy="Local",
                                loadBalancerSourceRanges=["203.0.113.0/24"],
                                sessionAffinity="ClientIP", externalIPs=["192.0.2.1"],
                                status={"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}))
        w.apply_slice(endpoint_slice("ns", "a", [endpoint("10.244.0.5", "node-1"),
                                                 endpoint("10.244.1.5")], [port(8080)]))
        w.apply_service(service("ns", "b", "10.0.0.2", [port(53, "dns", "UDP")]))
        full = w.sync().tx.script()
        nft(full, "-c")
        nft(full)
        nft(full)  # a restarted proxy replaces the table it finds
        w.apply_slice(endpoint_slice("ns", "a", [endpoint("10.244.1.5")], [port(8080)]))
        w.apply_slice(endpoint_slice("ns", "b", [endpoint("10.244.1.6")],
                                     [port(5353, "dns", "UDP")]))
        nft(w.sync().tx.script())
        w.apply_service(service("ns", "a", "10.0.0.1", [port(80, nodePort=30001)],
                                type="LoadBalancer", externalTrafficPolicy="Local",
                                loadBalancerSourceRanges=["203.0.113.0/25", "192.0.2.0/24"],
                                status={"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}))
        partial = w.sync().tx.script()
        assert "delete element" in partial and "firewall-allow" in partial
        nft(partial)
        w.apply_service(service("ns", "a", "10.0.0.1", [port(80)]), deleted=True)
        nft(w.sync().tx.script())
        w.state.failed()
        nft(w.sync().tx.script())  # a full sync over a table with elements
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft")
async def test_nft_command_in_process_and_subprocess() -> None:
    """Small transactions go through libnftables in the netns, big ones through `nft -f -`."""
    ns = f"portico-t-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    runner = NftCommand(ns)
    try:
        big = _tx()
        big.add(Table())
        big.add(Map("m", "inet_service : verdict"))
        big.add(Chain("c"))
        for port_number in range(1, IN_PROCESS_MAX_OPERATIONS + 1):
            big.add(Element("m", (str(port_number),), ("goto c",)))
        await runner.run(big)
        small = _tx()
        small.delete(Element("m", ("1",)))
        small.add(Element("m", ("1",), ("drop",)))
        await runner.run(small)
        listing = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "map", "inet", "t",
                                  "m"], capture_output=True, text=True, check=True).stdout
        assert "1 : drop" in listing and "1000 : goto c" in listing
        bad = _tx()
        bad.delete(Element("m", ("1001",)))
        with pytest.raises(NftError, match="No such file or directory"):
            await runner.run(bad)
    finally:
        runner.close()
        subprocess.run(["ip", "netns", "del", ns], check=False)
