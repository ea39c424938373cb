"""Importing this package registers every case, one module per spec area."""
import importlib
import pkgutil

for _m in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _m != "common":
        importlib.import_module(f"{__name__}.{_m}")
