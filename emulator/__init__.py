"""The emulated sensor: firmware, the physiological night model, a BLE peripheral in software.

Layer: imports :mod:`firmware_protocol`, :mod:`detector` and :mod:`recordings`; never the
application (:mod:`nightcramp`).
"""
