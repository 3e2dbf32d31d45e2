"""latentmint: train a face generator on your own photos and publish its works with verifiable provenance."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("latentmint")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
