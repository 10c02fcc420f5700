"""On-disk formats and the sources that read them.

The native container (:mod:`recordings.store`), the frame assembler
(:mod:`recordings.assemble`), EDF/EDF+/BDF (:mod:`recordings.edf`), Parquet export and
``open_source`` (:mod:`recordings.export`).  Layer: imports :mod:`detector` (the stream
contract) and :mod:`firmware_protocol`, nothing above.
"""
