"""`deeplink new-backend NAME --out DIR`: write a working vendor-backend plugin package.

    from deeplink.scaffold import generate
    generate("myaccel", "plugins/myaccel")     # then: pip install --no-build-isolation plugins/myaccel

template/ holds the package's files; `__name__` in a path and `{{name}}`, `{{Name}}` in a file are
replaced by the backend name and its class-name form. The C headers the plugin compiles against
are copied from this deeplink (csrc/include/deeplink/).
"""
from .command import add_new_backend_parser, new_backend_command
from .generate import generate
from .names import InvalidBackendName, validate_name

__all__ = ["generate", "validate_name", "InvalidBackendName", "add_new_backend_parser", "new_backend_command"]
