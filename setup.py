"""Packaging: the folders `backends/`, `conformance/` and `csrc/` ship inside the `deeplink` package.

The C++ shim is not compiled here: compiling needs torch in the build environment, and pip's build
isolation would fetch a multi-GB CUDA torch for that. `deeplink/_build.py` compiles it on first import
against whatever torch is installed (CPU 2.13 here, CUDA 2.11 on a GPU machine) and caches the result.
"""
from setuptools import setup, find_packages

import os

folders = {pkg: folder for pkg, folder in {"deeplink": "deeplink", "deeplink.backends": "backends",
                                           "deeplink.conformance": "conformance", "deeplink.csrc": "csrc"}.items()
           if os.path.isdir(folder)}
packages = ["deeplink", "deeplink.csrc"]
for pkg, folder in folders.items():
    if pkg in ("deeplink", "deeplink.csrc"):
        continue
    packages.append(pkg)
    packages += [f"{pkg}.{sub}" for sub in find_packages(folder)]
packages += [f"deeplink.{sub}" for sub in find_packages("deeplink")]
package_dir = dict(folders)

setup(
    packages=sorted(set(packages)),
    package_dir=package_dir,
    package_data={"deeplink.csrc": ["**/*.cpp", "**/*.h", "**/*.c"],
                  "deeplink": ["data/*", "data/**/*", "scaffold/template/**/*"],
                  "deeplink.backends": ["**/*.c", "**/*.h", "**/*.cpp"],
                  "deeplink.conformance": ["data/*", "data/**/*"]},
    include_package_data=True,
)
