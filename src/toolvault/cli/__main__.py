"""``python -m toolvault.cli``."""

from toolvault.cli import main

main()
