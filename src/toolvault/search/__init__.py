"""Search (SPEC §10): the query language (:mod:`.query`) and matching and ranking of
indexed rows (:mod:`.rank`), pure functions shared by every store.

Importing this package imports none of its modules.
"""
