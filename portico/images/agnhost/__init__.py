"""Portico's agnhost: the subcommands of Kubernetes' e2e test image, in Python.

Run as `python -m portico.images.agnhost <subcommand> [flags]` (what the image
`registry.k8s.io/e2e-test-images/agnhost` resolves to). Subcommands: `netexec`,
`serve-hostname`, `pause` (the image's default CMD). Flags parse like upstream's
cobra/pflag (`_flags`); errors print `Error: ...` and exit 1, like cobra.
"""
