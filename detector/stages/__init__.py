"""The detector's stages, each with its state made explicit and testable alone.

In pipeline order (:class:`detector.detect.Detector` only wires them)::

    front_end      raw EMG -> band-pass + self-detected mains notches -> 10-ms frames
    band_shape     raw EMG -> per-second spectral shape (high/mid band, hum lines)
    frames         frame clock, 100-ms envelope, ring of recent frames, per-second stats
    rest           adaptive resting level per second; on / off levels (Bonato, AASM)
    electrode_off  seconds without signal -> artifact/electrode-off
    segmenter      double threshold + AASM/WASM end rule -> bursts; TKEO onset
    episodes       bursts < merge_gap_s apart -> episodes; cramp cores inside them
    features       a burst's measures (BurstFeatures)
    classify       the rules: cramp / plm / movement / artifact
    plm            leg movements -> PLM series (AASM / WASM 2016); held short cramps
    posture        accelerometer seconds, shank axis, upright, turning, posture
    sleep          awake or asleep (live), a cramp's context, Cole-Kripke epochs
    notices        early cramp notices (provisional, final, retracted)

``buffers`` holds the two stores they share (whole-night per-second rows, frame ring).
Every threshold is in :class:`detector.config.DetectorConfig`.
"""
