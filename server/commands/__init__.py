"""Subcommands of `jewel-retouch`: one module each, every module exposes `register(subparsers)`."""
