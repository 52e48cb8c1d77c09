"""The daemon: its main loop (``main.Service``), what each inbox entry becomes (``intake``),
the books being read (``runner``, ``scheduler``, ``planner``), where sources go afterwards
(``disposal``, ``retention``), and what systemd and the API hear of it (``health``).
"""
