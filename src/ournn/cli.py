"""The ``ournn`` command line. It parses arguments and calls the library."""
import argparse
import sys

from . import __version__


def build_parser():
    parser = argparse.ArgumentParser(
        prog="ournn", description="ournn: deep learning on NumPy with PyTorch's names.")
    parser.add_argument("--version", action="version", version=f"ournn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
