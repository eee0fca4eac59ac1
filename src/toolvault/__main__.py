"""``python -m toolvault``."""

from toolvault.main import main

main()
