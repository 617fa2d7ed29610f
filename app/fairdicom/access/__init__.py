"""Access by dataset: who may read which graphs, and who is asking.

:mod:`~fairdicom.access.policy` turns each dataset's access level and the site's grants into
a :class:`~fairdicom.access.scope.Scope` per principal; :mod:`~fairdicom.access.oidc` and
:mod:`~fairdicom.access.api_keys` turn a bearer token into a
:class:`~fairdicom.access.principal.Principal`; :mod:`~fairdicom.access.audit` keeps the log
of record-level reads of non-public datasets. The query service enforces a scope as the
engine's dataset restriction; the web layer authenticates each request once.
"""

from __future__ import annotations

from fairdicom.access.principal import ADMIN, ANONYMOUS, Principal
from fairdicom.access.scope import EVERYTHING, SCOPE, Scope

__all__ = ["ADMIN", "ANONYMOUS", "EVERYTHING", "SCOPE", "Principal", "Scope"]
