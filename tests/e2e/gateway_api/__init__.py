"""Gateway API end to end: the conformance tests, ported, against `portico up`."""
