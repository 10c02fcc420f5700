"""The stream contract (``Source``, ``Chunk``, ``Gap``, ``StreamLayout``) and the signal pipeline.

Layer: imports nothing of ours.  Live recording, replay, EDF import and every device feed
:func:`detector.pipeline.run` / :class:`detector.pipeline.Pipeline` through ``Source``.
"""
