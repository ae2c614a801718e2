# The cffi extension is declared here because setuptools has no pyproject.toml key for
# cffi_modules. Everything else is in pyproject.toml. Building needs `pkg-config polymongo`
# to succeed: install libpolymongo, or set PKG_CONFIG_PATH=<cmake build>/pkgconfig-uninstalled.
from setuptools import setup

setup(cffi_modules=["polymongo/_build.py:ffibuilder"])
