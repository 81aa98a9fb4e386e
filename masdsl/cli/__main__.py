"""`python -m masdsl.cli ...` runs `masc` (useful without the console script installed)."""

from masdsl.cli import console

console()
