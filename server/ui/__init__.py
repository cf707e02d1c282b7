"""The web UI: a read-only catalog at ``/ui`` (server-rendered HTML, the same data as JSON at ``/ui/api``).

Pages: overview, feature views (plain, aggregate, on-demand), entities, services, sources, lineage,
training sets, history and search. Templates and assets ship in the package; nothing is loaded from
another host. See the README's "Web UI".
"""

from .context import UiContext
from .routes import install

__all__ = ["UiContext", "install"]
