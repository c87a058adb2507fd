from evalkit.cli import console

console()
