"""Heavy libraries loaded when first used, not when Django starts.

Every process (web, worker, each management command) loads the admin, which loads the first page, which
reaches the PDF renderer and the reconciliation's PDF reader. WeasyPrint, factur-x and pypdf weigh tens of
megabytes and a second of start-up: a module that needs them names them with :func:`lazy_module` and the
import happens on the first attribute read.
"""

import importlib
from types import ModuleType


class LazyModule:
    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)

    def __repr__(self):
        return f"<lazy module {self._name!r}{' (loaded)' if self._module else ''}>"


def lazy_module(name: str) -> LazyModule:
    return LazyModule(name)
