"""One module per synced resource; each registers its syncer with ``@register``.

Importing this package imports every module in it, so adding a resource is
writing one file whose syncer class carries ``@register``.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
