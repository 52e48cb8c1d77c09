"""Synthesis: the model (``engine``: a segment's text in, its audio out), the executors that
run it (the local pool in ``executors``, Dask in ``dask_*``), which of them the config asks
for (``backends``), the model-free stand-ins for tests and drills (``stand_ins``), and
voice samples.
"""
