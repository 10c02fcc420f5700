"""The stream contract (``Source``, ``Chunk``, ``Gap``, ``StreamLayout``) and the signal pipeline.

Layer: imports nothing of ours.  Live recording, replay, EDF import and every device feed
:func:`detector.pipeline.run` / :class:`detector.pipeline.Pipeline` through ``Source``.
The pipeline is :class:`detector.detect.Detector`, which wires the stages of
:mod:`detector.stages` (see its docstring for their order); every threshold is in
:class:`detector.config.DetectorConfig`; events are :mod:`detector.events`.
"""
