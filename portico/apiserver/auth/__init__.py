"""Identity and access as kube-apiserver has them: authentication, impersonation,
RBAC and the Node authorizer, ServiceAccount tokens and the review APIs.

`service.Auth.middleware` is the single hook the HTTP app installs (import it from
`portico.apiserver.auth.service`: it needs the registry, which needs the kinds,
whose RBAC strategies need this package); `CURRENT` gives the request's user to
the RBAC strategies' escalation checks; `policy` holds the default roles.
"""

from portico.apiserver.auth._authorizer import Authorizer, Decision
from portico.apiserver.auth._context import CURRENT, RequestContext
from portico.apiserver.auth._jwt import SigningKey
from portico.apiserver.auth._rules import Rule, uncovered
from portico.apiserver.auth._tokens import legacy_claims
from portico.apiserver.auth._user import MASTERS, UserInfo

__all__ = ["CURRENT", "MASTERS", "Authorizer", "Decision", "RequestContext", "Rule",
           "SigningKey", "UserInfo", "legacy_claims", "uncovered"]
