"""Packaging: the folders named in deeplink/_layout.py (backends/, conformance/, csrc/) ship inside
the `deeplink` package under the names it gives.

The C++ shim is not compiled here: compiling needs torch in the build environment, and pip's build
isolation would fetch a multi-GB CUDA torch for that. `deeplink build` (or the first import)
compiles it against whatever torch is installed (CPU 2.13 here, CUDA 2.11 on a GPU machine) and
caches the result (deeplink/_build.py).
"""
import runpy

from setuptools import find_packages, setup

FOLDERS = runpy.run_path("deeplink/_layout.py")["FOLDERS"]

packages = ["deeplink"] + [f"deeplink.{sub}" for sub in find_packages("deeplink")]
for pkg, folder in FOLDERS.items():
    packages += [pkg] + [f"{pkg}.{sub}" for sub in find_packages(folder)]

setup(
    packages=sorted(set(packages)),
    package_dir={"deeplink": "deeplink", **FOLDERS},
    package_data={"deeplink.csrc": ["**/*.cpp", "**/*.h", "**/*.c"],
                  "deeplink": ["data/*", "data/**/*", "scaffold/template/**/*"],
                  "deeplink.backends": ["**/*.c", "**/*.h", "**/*.cpp"],
                  "deeplink.conformance": ["data/*", "data/**/*"]},
    include_package_data=True,
)
