"""The policy agent's sync loop without an API server: partial syncs between full ones,
a full sync again once `FULL_SYNC_PERIOD` has passed, and after a failed transaction."""

from __future__ import annotations

from typing import cast

import pytest
from netpol_builders import pod
from test_netpol_incremental import FROM_B

from portico.client import Api, InformerFactory
from portico.netpol._agent import FULL_SYNC_PERIOD, PolicyAgent
from portico.netpol.render import TABLE
from portico.proxy.config import ProxyConfig
from portico.proxy.nftables import Transaction
from portico.testing.nft import FakeNft

CONFIG = ProxyConfig(node_name="node-1", node_ip="10.224.0.4", pod_cidr="10.244.0.0/24")


class RecordingNft(FakeNft):
    """Keeps the script of every transaction applied."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []

    async def run(self, tx: Transaction) -> None:
        await super().run(tx)
        self.scripts.append(tx.script())


class CutCountingAgent(PolicyAgent):
    """Records the conntrack passes it asks for instead of running conntrack."""

    cuts: list[object]


@pytest.fixture
def agent(monkeypatch: pytest.MonkeyPatch) -> CutCountingAgent:
    made = CutCountingAgent(CONFIG, InformerFactory(cast(Api, object())), RecordingNft())
    monkeypatch.setattr(made, "_request_cut", lambda: made.cuts.append(made.state.applied))
    monkeypatch.setattr(made.runner, "retry_after", lambda seconds: None)
    made.cuts = []
    made.state.set_policy(FROM_B.key, FROM_B)
    for p in (pod("x", "a", "10.244.0.10"), pod("x", "b", "10.244.1.10", 2)):
        made.state.set_pod(p.key, p)
    return made


def _full(script: str) -> bool:
    return script.startswith(f"add table inet {TABLE}\ndelete table inet {TABLE}")


async def test_partial_between_full_syncs_and_full_after_the_period(
        agent: CutCountingAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    nft = agent.nft
    assert isinstance(nft, RecordingNft)
    await agent.sync()
    await agent.sync()  # nothing changed: no transaction
    agent.state.set_pod("x/c", pod("x", "c", "10.244.2.10", 3, pod="b"))
    await agent.sync()
    assert [_full(s) for s in nft.scripts] == [True, False]
    assert len(agent.cuts) == 1  # x/c joined a peer set: no connection to cut
    agent.state.set_pod("x/c", pod("x", "c", "10.244.2.10", 3, pod="c"))
    await agent.sync()
    assert len(agent.cuts) == 2 and nft.scripts[2].startswith("delete element")
    agent.state.set_pod("x/c", pod("x", "c", "10.244.2.10", 3, pod="b"))
    await agent.sync()
    assert nft.scripts[1].startswith("add element")
    table = nft.dump(name=TABLE)
    monkeypatch.setattr(agent, "_last_full", agent.last_applied - FULL_SYNC_PERIOD)
    await agent.sync()  # the periodic wake-up: a full sync though nothing changed
    assert [_full(s) for s in nft.scripts] == [True, False, False, False, True]
    assert nft.dump(name=TABLE) == table


async def test_failed_transaction_makes_the_next_sync_full(agent: CutCountingAgent) -> None:
    nft = agent.nft
    assert isinstance(nft, RecordingNft)
    await agent.sync()
    agent.state.set_pod("x/c", pod("x", "c", "10.244.2.10", 3, pod="b"))
    nft.fail_next = "nft: injected failure"
    await agent.sync()
    await agent.sync()
    assert [_full(s) for s in nft.scripts] == [True, True]
    assert "10.244.2.10" in nft.dump(name=TABLE)
