"""The database layer: ``sqlite.py`` (the embedded default), ``migrations.py``, and
``fastread.py`` (the light query behind ``toolvault cat``). Import the module you
need; this package imports nothing, so that the fast path stays light."""
