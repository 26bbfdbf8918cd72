"""Gateway API, the AKS app routing way, on HAProxy.

`controller` (GatewayClass, per-Gateway Deployment/Service/PDB, status) and
`proxy` (each Gateway's HAProxy pods) share the pure decisions: `listeners`
(a Gateway's listeners and conditions), `attach` (routes to listeners, route
status), `routing` (the precedence-ordered table) and `render` (HAProxy's
files, applied by `portico.ingress.apply`). `provision` holds the manifests.
"""
