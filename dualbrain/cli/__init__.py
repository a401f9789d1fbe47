"""The `dualbrain` command line: a thin layer over the Python API (:class:`dualbrain.api.DualBrain`).

Each area has its module: ``knowledge_bases`` (kb, docs), ``learning`` (learn, forget, export), ``answering`` (ask,
chat, demo), ``serving`` (serve, keys) and ``bench``; ``common`` holds what they share. Every user error is a
:class:`DualBrainError`; :func:`main` prints it as one line on stderr and exits 1.
"""

from __future__ import annotations

import sys

import typer

from dualbrain.cli import answering, bench, knowledge_bases, learning, serving
from dualbrain.errors import DualBrainError
from dualbrain.quiet import quiet_libraries

app = typer.Typer(help="Give a language model a second brain for your documents.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.add_typer(knowledge_bases.kb_app, name="kb")
app.add_typer(knowledge_bases.docs_app, name="docs")
app.add_typer(serving.keys_app, name="keys")
for command in (serving.serve, learning.learn, learning.forget, learning.export, answering.ask, answering.chat,
                answering.demo, bench.bench):
    app.command()(command)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 1."""
    quiet_libraries()
    try:
        app()
    except DualBrainError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; nothing was published", file=sys.stderr)
        sys.exit(130)
