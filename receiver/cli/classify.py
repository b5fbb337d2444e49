"""`failwatch classify`: what the configured classifier makes of one error, and why."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from receiver.config.settings import load_settings
from receiver.intake.pipeline import identify
from receiver.model import ErrorDetails


def register(
    commands: Any,  # argparse's private _SubParsersAction
    config_option: Callable[[argparse.ArgumentParser], None],
) -> None:
    parser = commands.add_parser(
        "classify", help="show the category, the rule that matched and the fingerprint"
    )
    config_option(parser)
    parser.add_argument("message", help="the error message (parameters.error)")
    parser.add_argument("--type", dest="error_type", metavar="T", help="errorContext.type")
    parser.add_argument("--status", type=_status, metavar="N", help="HTTP status, 100-599")
    parser.add_argument("--code", metavar="C", help="errorContext.code")
    parser.add_argument("--model", metavar="M", help="model_id (part of the fingerprint)")
    parser.set_defaults(handler=_classify)


def _status(text: str) -> int:
    try:
        status = int(text)
    except ValueError:
        status = 0
    if not 100 <= status <= 599:
        raise argparse.ArgumentTypeError(f"expected an HTTP status from 100 to 599, not {text!r}")
    return status


def _classify(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    error = ErrorDetails(
        message=args.message, error_type=args.error_type, code=args.code, status=args.status
    )
    identity = identify(error, args.model, settings.classifier.classifier)
    print(f"category:    {identity.verdict.category}")
    print(f"rule:        {identity.verdict.explain()}")
    print(f"fingerprint: {identity.fingerprint}")
    return 0
