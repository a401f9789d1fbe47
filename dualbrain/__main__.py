"""`python -m dualbrain` runs the CLI."""

from dualbrain.cli import main

main()
