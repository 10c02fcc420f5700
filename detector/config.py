"""Every number of the detector, with its unit and where it comes from.

One frozen :class:`DetectorConfig` is handed to every stage (:mod:`detector.stages`);
no threshold, window or weight hides in a stage's code.  "Our choice" marks a value
tuned on the ``tune`` split of the benchmark corpus rather than taken from a source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectorConfig:
    """Every threshold of the detector, with its unit and where it comes from."""

    # --- band and mains -------------------------------------------------------------
    hp_hz: float = 20.0
    """High-pass corner, Hz.  Surface EMG lies in 20-450 Hz (DOMAIN.md, De Luca 2010)."""
    lp_hz: float = 450.0
    """Low-pass corner, Hz (same source); capped at ``lp_frac * fs``."""
    lp_frac: float = 0.45
    """Low-pass cap as a fraction of the sampling rate (below Nyquist), unitless."""
    notch_q: float = 30.0
    """Quality factor of each mains notch (-3 dB width ~1.7 Hz at 50 Hz), unitless."""
    mains_ratio_min: float = 10.0
    """Narrow-band power at 50/60 Hz over the EMG band median that counts as hum
    (power ratio, 10 dB); our choice."""
    mains_check_every_s: int = 120
    """Mains re-check period after the first ``mains_early_s``, s (our choice: hum
    changes with the room's appliances, not by the second)."""
    mains_first_checks_s: int = 10
    """Every second is checked at the start of a recording, s."""
    mains_early_s: int = 300
    """For the first this long the mains is re-checked every ``mains_early_every_s``, s."""
    mains_early_every_s: int = 10
    """Re-check period during the first ``mains_early_s``, s."""
    mains_max_hz: float = 200.0
    """Top of the reference band of the hum check (20 Hz to this, capped at 0.45 fs), Hz:
    where surface EMG still has most of its power (De Luca 2010)."""
    mains_confirm: int = 3
    """Consecutive checks needed to switch fundamental (50 <-> 60 Hz), count."""

    # --- frames and envelope --------------------------------------------------------
    frame_s: float = 0.01
    """Frame length, s (10 ms: onsets to tens of ms, issue 5)."""
    env_window_s: float = 0.1
    """Centred RMS window of the detection envelope, s (short, so strides stay apart)."""
    settle_s: float = 0.3
    """Ignore this long after a start or gap while the filters settle, s."""
    max_piece_s: float = 60.0
    """Large chunks are processed in pieces of at most this, s (bounded memory)."""
    ring_extra_s: float = 240.0
    """The frame ring holds ``max_segment_s`` plus this much, s: room for the 10-s look
    back of a cramp core and an episode's merge tail (our choice, generous)."""

    # --- adaptive rest --------------------------------------------------------------
    rest_window_s: int = 120
    """Resting level = low percentile of the per-second median 10-ms RMS over this
    trailing window, s (short enough to follow drift: a rising ramp lags ~100 s)."""
    rest_percentile: float = 20.0
    """... this percentile, %."""
    rest_gate_x: float = 3.0
    """Seconds whose median exceeds this multiple of the current rest do not feed it
    (gated update, so bursts and long cramps cannot lift the baseline), unitless."""
    rest_min_s: int = 10
    """Quiet seconds needed in the window to update the level, s."""
    rest_min_fill: float = 0.5
    """A second feeds the level only if at least this fraction of its frames are in
    (a second cut by a gap is not a fair sample), unitless."""
    rest_relock_s: int = 900
    """After this long with every second gated out the level restarts from all seconds,
    s (a lasting change of electrode contact; longer than the longest cramp)."""
    rest_update_s: int = 10
    """The resting level is recomputed every this many seconds, s."""
    rest_warmup_s: int = 30
    """... and every second during the first this many seconds, s."""

    # --- double threshold (Bonato 1998) with AASM/WASM amplitudes -------------------
    on_abs_uv: float = 8.0
    """Onset level = rest + this, µV (AASM 2007 leg movement onset: >= 8 µV above
    resting EMG) ..."""
    on_min_x_rest: float = 2.0
    """... but at least this multiple of rest (clear of the 100-ms RMS noise) ..."""
    on_x_rest: float = 4.0
    """... and at most this multiple (the same rule for a ~2.7 µV rest; keeps it
    meaningful when the data are not µV-scaled)."""
    off_abs_uv: float = 2.0
    """End level = rest + this, µV (AASM 2007 / WASM 2016: within 2 µV of rest) ..."""
    off_min_x_rest: float = 1.8
    """... but at least this multiple of rest: the 100-ms RMS of resting EMG itself sits
    at 1.1-1.5x the rest level (a low percentile of 10-ms mean squares; more at 256-512
    Hz with a 10-100 Hz band, where 100 ms holds few degrees of freedom), so rest + 2 µV
    over a noisy 4-5 µV rest (1.4-1.5x) lay inside the quiet envelope's own noise and
    leg movements ended seconds late (1.5 before: PLM F1 on the tuning draws 0.91 / 0.94
    -> 0.97 / 0.95 with 1.8) ..."""
    off_x_rest: float = 2.0
    """... and at most this multiple (2 µV over a 2 µV rest)."""
    end_quiet_s: float = 0.5
    """A burst ends at the start of >= this long below the off level, s (AASM, WASM)."""
    onset_search_s: float = 0.3
    """Onset refinement window on the TKEO frames around the envelope onset, s."""
    tkeo_x_rest: float = 4.0
    """TKEO onset level as a multiple of resting TKEO (energy: 2x in amplitude);
    Solnik 2008 used a multiple of the baseline SD."""
    max_segment_s: float = 720.0
    """A burst longer than this is split, s (cramps last up to ~10 min, Hallegraeff
    2017)."""

    # --- episodes -------------------------------------------------------------------
    merge_gap_s: float = 2.0
    """Bursts closer than this belong to one episode, s (below the 5-10 s minimum PLM
    interval of AASM/WASM, above a stride's swing phase)."""
    acc_context_s: float = 3.0
    """Accelerometer seconds needed after an episode before classifying it, s."""
    acc_wait_max_s: float = 30.0
    """... but an episode waits for them at most this much EMG time past that, s (a
    source may stop sending the accelerometer)."""
    leftover_min_div: int = 5
    """Pieces of an episode left around a cramp shorter than ``end_quiet_s`` frames //
    this (0.1 s at 0.5 s) are dropped, count divisor (our choice)."""
    channel_active_frac: float = 0.1
    """An event names a channel whose envelope is above its onset level for at least
    this fraction of the event (and always the main one), unitless (our choice)."""

    # --- classification -------------------------------------------------------------
    lm_min_s: float = 0.5
    """Shortest leg movement, s (AASM 2007, WASM 2016); shorter -> twitch."""
    lm_max_s: float = 10.0
    """Longest leg movement, s (AASM 2007 / WASM 2016 monolateral)."""
    lm_max_segments: int = 2
    """A leg movement is one burst: at most this many segments (two bursts < 0.5 s apart
    are one LM, AASM 2007), count."""
    plm_min_count: int = 4
    """Movements in a PLM series, count (AASM, WASM)."""
    plm_min_interval_s: float = 5.0
    """Shortest onset-to-onset interval in a series, s: AASM 2007's 5 s (WASM 2016 says 10,
    one setting away).  Scored series have median intervals from 7 s (DOMAIN), so intervals
    under 10 s are scored in practice; with 10 s the series of the independent model's
    tuning draw at 5-10 s were lost (smoke2 PLM F1 0.90 -> 0.93 with 5 s, the emulator's
    WASM-spaced series unchanged)."""
    plm_max_interval_s: float = 90.0
    """Longest onset-to-onset interval in a series, s (AASM, WASM)."""
    bilateral_rule: str = "wasm"
    """How the two legs' movements merge (:mod:`detector.stages.bilateral`): ``wasm``
    (WASM 2016, the default) or ``aasm`` (AASM 2007)."""
    bilateral_gap_s: float = 0.5
    """WASM 2016: leg movements of the two legs that overlap or are less than this apart
    (end of one to onset of the other) are one bilateral leg movement, s."""
    bilateral_max_s: float = 15.0
    """WASM 2016: a bilateral leg movement lasts at most this, first onset to last end, s;
    a longer combination is not a candidate leg movement."""
    bilateral_max_members: int = 4
    """WASM 2016: a bilateral leg movement joins at most this many monolateral ones, count."""
    bilateral_onset_s: float = 5.0
    """AASM 2007: leg movements of the two legs whose onsets are less than this apart
    count as one, s."""
    cramp_min_s: float = 8.0
    """Shortest cramp, s: beyond the longest PLMs' median durations (0.5-5 s, DOMAIN) and
    the plain floor's 8 s; cramps last seconds to ~10 min (Hallegraeff 2017)."""
    cramp_core_min_s: float = 6.0
    """A cramp core is kept when it holds above the core level this long, s, and the
    cramp it makes (its rise walked back, its fall walked forward) lasts ``cramp_min_s``:
    a 9-s cramp with a 1-s rise and a 2-s fall holds above the level some 7 s (our
    choice: 5 s made a 9-s leg movement of a PLM night a cramp)."""
    cramp_lm_context_s: float = 10.0
    """A cramp candidate this short (the longest leg movement of one leg, WASM 2016; each
    leg has a detector of its own, so WASM's 15 s for bilateral movements never applies)
    that starts plm_min_interval_s..plm_max_interval_s after the previous leg movement is
    a leg movement of the series, not a cramp, s."""
    cramp_min_x_rest: float = 8.0
    """Median calf envelope over a cramp, multiple of rest ("many x rest", DOMAIN): above
    the highest pre-cramp rise (+500 % = 6x, Chaney & Sherman) and quiet-standing tonic
    soleus activity."""
    cramp_long_s: float = 90.0
    """A contraction held this long is longer than any pre-cramp rise (41 +- 11 s,
    Chaney & Sherman; 20-70 s in the nights we test on), s ..."""
    cramp_long_x_rest: float = 6.0
    """... and is a cramp from this calf median on (the core level, above the highest
    pre-cramp rise), multiple of rest ..."""
    cramp_long_depth: float = 0.3
    """... when its troughs stay at least this fraction of its peaks (P10/P90; a cramp's
    troughs are >= 0.55 of its peaks, Minetto 2009; the long fidgets and standing
    tone of the tuning draws fall back to <= 0.16), unitless."""
    cramp_min_sustain: float = 0.8
    """Fraction of a cramp's frames above the off level (sustained, not strides)."""
    cramp_min_depth: float = 0.1
    """A cramp's calf envelope keeps P10/P90 >= this: it waxes and wanes but its troughs
    stay far above rest (>= 0.55 of the peaks, Minetto 2009); rubbing or shaking the
    calf (DOMAIN: what ends a cramp) falls back towards rest between strokes (~0.05).
    Every cramp of the tuning draws has >= 0.128, unitless."""
    cramp_core_x_rest: float = 6.0
    """Core level of a cramp, multiple of rest: above the highest pre-cramp rise
    (+500 % = 6x, Chaney & Sherman)."""
    cramp_step_x: float = 2.0
    """A core that steps up by this factor after a plateau starts at the step (a loud
    pre-cramp rise is not the cramp), ratio of 1-s block medians (our choice: a cramp's
    waxing and waning keeps its troughs >= 0.55 of its peaks, Minetto 2009) ..."""
    cramp_step_pre_s: float = 10.0
    """... the plateau before the step lasting at least this long, s (our choice, a
    quarter of the 41-s pre-cramp rise)."""
    cramp_core_frac: float = 0.25
    """... and at least this fraction of the burst's 90th-percentile envelope (troughs of
    waxing and waning stay above it: depth <= 45 %, Minetto 2009), unitless.  The
    percentile is of the episode up to each moment (where lower than the whole
    episode's): strides many times a cramp's level that walk it off do not lift the
    level the cramp before them is held to."""
    cramp_hole_s: float = 0.3
    """Dips below the core level shorter than this are bridged, s (shorter than the gaps
    of ECG spikes at <= 100 bpm and of strides)."""
    cramp_rise_max_s: float = 3.0
    """Longest rise before a core's top, s (cramps rise in 0.3-2 s, DOMAIN: "sudden")."""
    cramp_rise_top: float = 0.7
    """The rise ends where the envelope first reaches this fraction of the core's median
    (the waxing and waning's troughs are >= 0.55 of its peaks, Minetto 2009), unitless."""
    cramp_onset_flat_s: float = 2.0
    """The knee of the rise is fitted with this much of the level before the rise, s."""
    cramp_fall_max_s: float = 5.0
    """Longest fall walked forward from the core to the off level, s."""
    cramp_fall_floor: float = 0.1
    """... stopping where the envelope falls below this fraction of the core's median,
    unitless."""
    cramp_hold_x_rest: float = 3.0
    """A cramp holds past its core while the calf envelope's mean over
    ``cramp_hold_win_s`` stays at least this multiple of rest and what it holds is
    sustained calf activity with no other explanation (no strides, turn, stretch or
    artifact): a long cramp wanes (it lasts up to ~10 min, Hallegraeff 2017) below its
    core level long before the calf lets go.  Above the mean pre-cramp rise (+217 %
    ~ 3.2x is the mean, Chaney & Sherman: its lower half) and the off level (2x),
    unitless."""
    cramp_hold_frac: float = 0.1
    """... and at least this fraction of the cramp core's median: a cramp wanes, it does
    not drop to a twentieth of itself and hold there (what does is another, weaker
    activity: a stretch or massage after a very loud cramp), unitless."""
    cramp_hold_win_s: float = 2.0
    """... the mean taken over this window, s: two periods of a cramp's slowest waxing
    and waning seen on the tuning draws (~1 Hz; shared oscillation near 1.4 Hz,
    Minetto 2009)."""
    cramp_hold_tib_x: float = 1.5
    """... and the tibialis stays within this multiple of its level in the cramp (or the
    off level, 2x rest): a new movement after a cramp (turning over, a stretch) works
    both muscles, unitless."""
    cramp_letgo_s: float = 3.0
    """... and it ends where the calf starts falling back near rest between bursts for
    this many seconds in a row (strides or rubbing; :func:`~detector.stages.episodes.let_go`;
    about three strides), s (our choice).  Without an accelerometer, this is where the
    walking it off starts."""
    cramp_hold_min_s: float = 2.0
    """A hold shorter than this is left to the fall walked forward, s."""
    tib_takeover_s: float = 2.0
    """A cramp core ends where the tibialis leads the calf (each against its own rest)
    for this long, s: the foot pulled up to stretch the calf, or turning over (our
    choice: longer than the 1.4-Hz waxing and waning, shorter than a stretch held)."""
    cramp_look_back_s: float = 10.0
    """Calf envelope read before an episode's start when looking for its cramp core, s
    (covers the pre-level window)."""
    cramp_calf_vs_tib: float = 1.0
    """Calf median x rest must be at least this times the tibialis', unitless: a calf
    cramp is the calf's (the tibialis carries at most its crosstalk, a fraction of the
    calf's); both muscles working alike is a movement (shaking the leg, a co-contraction),
    our choice."""
    stretch_min_s: float = 10.0
    """A voluntary stretch holds the tibialis for tens of seconds (DOMAIN), s: longer
    than the longest leg movement (10 s, AASM)."""
    stretch_min_x_rest: float = 3.0
    """... at this multiple of rest at least."""
    stride_period_s: tuple[float, float] = (0.6, 1.8)
    """Stride (gait cycle) period range, s: about one calf burst per second (DOMAIN)."""
    walk_min_strides: int = 5
    """Bursts at a stride period that make walking, count."""
    train_regular_band: tuple[float, float] = (0.6, 1.5)
    """A burst train (strides, ECG spikes) is regular when its onset intervals lie within
    this band around their median, multiples of the median (our choice) ..."""
    train_regular_frac: float = 0.6
    """... for at least this fraction of the intervals, unitless."""
    stride_ac_min: float = 0.6
    """Envelope autocorrelation at the stride lag that counts as periodic, unitless."""
    walk_acc_g: float = 0.08
    """Acc activity (RMS of the 3 axes' variation in 1 s) of walking, g."""
    walk_onset_run_s: float = 4.0
    """Walking starts at the first of this many seconds in a row upright and moving
    (>= walk_acc_g), s: about walk_min_strides strides at a ~1 s period."""
    standing_before_s: float = 5.0
    """Whether the sleeper walked up to a cramp core (shank upright and moving) is read
    over this long before it, and a walk that starts at most this long after it follows
    it, s: sustained calf activity with the shank then upright and still is standing
    (postural soleus tone), not a cramp."""
    standing_since_max_s: float = 600.0
    """... or whether the shank has kept the orientation of a walk (a bout of
    ``walk_onset_run_s`` moving seconds, upright by the learnt axis or turned
    ``turn_angle_deg`` from a still second before it: got up) since one within this long
    before the core, or up to one right after it (:func:`~detector.stages.posture.on_feet`),
    s: standing still a while before the soleus tone rises (our choice: ten minutes on the
    feet)."""
    strides_before_s: float = 8.0
    """Without an accelerometer, whether the sleeper walked up to a cramp core is read
    from the calf EMG over this long before it
    (:func:`~detector.stages.episodes.strides_before`; and whether strides follow it,
    over as long after it: :func:`~detector.stages.episodes.strides_after`), s (our
    choice: room for four strides at the slowest stride period) ..."""
    strides_before_x: float = 1.5
    """... strides whose 90th percentile is at least this times the core's, unitless
    (our choice: a cramp rises out of something quieter than itself)."""
    got_up_onset_s: float = 1.0
    """... or, as well without an accelerometer, whether a core is the tone of standing up
    to walk is read from both muscles over its first this long (rising from a bed works
    both, a cramp bites in the calf alone) and from strides right after it, s (our
    choice: standing up takes about a second)."""
    got_up_tib_frac: float = 0.5
    """... the tibialis (x its rest) at least this fraction of the calf's there, unitless
    (our choice: over a whole cramp the tibialis carries a median 0.11 of the calf's,
    0.55 at the 99th percentile, on the tuning draws)."""
    got_up_s: float = 30.0
    """... turned from a still second this long before the walk, s (our choice: sitting
    up and standing take seconds; the half minute keeps the lying seconds in view)."""
    standing_max_x_rest: float = 20.0
    """... below this calf median, multiple of rest: quiet standing holds the soleus at a
    few percent of its maximum, some 5-15x its lying rest, far below a cramp's
    near-maximal drive (our choice; the shank's upright reading rests on a learnt axis
    and can be wrong, so a loud contraction stays a cramp)."""
    stride_env_hz: float = 20.0
    """The calf envelope is decimated to about this rate for the stride autocorrelation,
    Hz (well above the ~1 Hz stride rate)."""
    rhythm_hz: tuple[float, float] = (2.0, 7.0)
    """The calf envelope's faster rhythm is looked for in this band, Hz
    (:func:`~detector.stages.features.rhythm_peak`; above the strides; the 100-ms
    envelope (``env_window_s``) halves a 6-Hz beat and all but removes 9 Hz)."""
    rhythm_env_hz: float = 50.0
    """... on the envelope decimated to about this rate, Hz."""
    shake_min_hz: float = 3.5
    """A sustained calf burst whose envelope beats at this rate or faster ...: shaking
    the leg (a rhythmic voluntary movement, the muscles bursting at every swing), not a
    cramp: a cramp's motor units fire irregularly (interspike CV 45 %) and share an
    oscillation near 1.4 Hz (Minetto 2009), whose second harmonic (2.8 Hz) stays below,
    Hz (our choice)."""
    shake_min_ac: float = 0.35
    """... with at least this autocorrelation at its period, unitless (our choice: on the
    tuning draws a cramp's envelope shows at most 0.17 at 3.5-8 Hz, a shaken leg's
    0.48-0.78)."""
    step_window_s: float = 0.1
    """Moving mean of the raw 10-ms means for the step (pop) ratio, s: 100 ms cancels 50
    and 60 Hz hum and their harmonics."""
    upright_deg: float = 40.0
    """Shank within this angle of vertical counts as upright, degrees."""
    upright_frac: float = 0.5
    """A burst is upright when at least this fraction of its seconds are, unitless."""
    acc_shank_axis: int = 0
    """Accelerometer axis along the shank (0=x, 1=y, 2=z) when it cannot be learnt from
    the night (see :class:`detector.stages.posture.ShankAxis`); the sensor's x points
    along the shank towards the knee (emulator/night.py)."""
    axis_block_s: int = 300
    """The shank axis is re-learnt every this long, from quiet seconds summed in blocks
    of this length, s (our choice: posture changes take minutes)."""
    axis_min_s: int = 60
    """Quiet accelerometer seconds needed before the learnt axis is used, s."""
    axis_eig_ratio: float = 0.35
    """The learnt axis is used only when the smallest eigenvalue of the gravity scatter
    is below this fraction of the next one (the leg rolled enough to tell), unitless
    (our choice)."""
    turn_angle_deg: float = 30.0
    """Gravity vector change across a burst that makes turning over, degrees."""
    turn_far_s: int = 3
    """Gravity before a burst is averaged over seconds ``-turn_far_s .. -turn_near_s - 1``
    of its start, after it over ``+turn_near_s .. +turn_far_s - 1`` of its end, s ..."""
    turn_near_s: int = 1
    """... staying this clear of the burst itself, s."""
    artifact_lf_ratio: float = 8.0
    """Raw in-frame variance over band-passed power above which a burst is a pop /
    electrode-off / mains spell (clean EMG ~1), unitless."""
    lf_ref_pct: float = 50.0
    """The raw-over-band ratio is taken on what a burst adds to the level before it: this
    percentile of the raw variance and band power per frame over the ``swing_pre_s``
    before the burst, %.  The median: a 10-ms frame holds part of a mains cycle, so the
    hum's in-frame variance swings with its phase and a low percentile misses most of it;
    hum of 1-50 µV must not change what a burst is (issue 10's invariance)."""
    artifact_step_ratio: float = 3.0
    """Excursion of the raw 10-ms mean over the peak envelope above which a short burst
    (<= pop_max_s) is an electrode pop: a step that decays (DOMAIN.md); clean EMG < 1."""
    artifact_step_long: float = 1.5
    """Same ratio (in windows, :attr:`step_long_window_s`) for a longer burst with the
    leg still (acc below walk_acc_g, or no acc): a loose electrode's baseline swings;
    muscle EMG is zero-mean, < 0.5 here (< 0.75 on every cramp of the tuning draws)."""
    shape_hi_hz: tuple[float, float] = (250.0, 400.0)
    """High band of the band-shape test (:mod:`detector.stages.band_shape`), Hz: above
    most of surface EMG's power (De Luca 1997), inside a wearable's 20-450 Hz band."""
    shape_mid_hz: tuple[float, float] = (60.0, 150.0)
    """Mid band of the band-shape test, Hz: where surface EMG's power peaks."""
    shape_rest_s: float = 60.0
    """Seconds before a burst whose band shape is its resting reference, s."""
    open_lead_line_excess: float = 0.5
    """Share of a burst's power rise (over the :attr:`shape_rest_s` before it) that lies
    within 3 Hz of a multiple of 50 or 60 Hz, at or above which the burst is an open lead
    picking up hum: muscle raises every bin alike (~0.1-0.3: those bins' share of its
    band; every cramp of the tuning draws <= 0.27), an open lead the lines alone (0.54-0.99
    on the tuning draws, the lower ones at 500 Hz and below: a strong line leaks a little
    out of its bins), unitless.  Measured at any rate whose band holds a line."""
    open_lead_hf_ratio: float = 0.7
    """Power density at :attr:`shape_hi_hz` over that at :attr:`shape_mid_hz` (50/60-Hz
    multiples left out), median over a burst's seconds on its main calf channel, at or
    above which the burst is an open lead: a flat broadband floor gives ~1 (~0.5 seen
    through a recorder's 400-Hz low-pass), real surface EMG 0.01-0.05 (shared/data/real),
    every cramp of the tuning draws <= 0.26, unitless."""
    steady_depth_min: float = 0.9
    """P10/P90 of the calf envelope at or above which loud activity is steady noise
    (electrode off), not a contraction, which waxes and wanes (DOMAIN, Minetto 2009)."""
    steady_min_s: float = 3.0
    """... over a burst at least this long, s (shorter bursts have too few troughs)."""
    saturation_frac: float = 0.5
    """A burst whose raw signal is flat (stuck or clipped) in at least this fraction of
    its frames is a saturation artifact, unitless."""
    step_long_window_s: float = 5.0
    """Window of the step ratio of a longer burst (the median over its windows), s: a
    loose lead's baseline swings within seconds, a good lead's drift over minutes."""
    swing_pre_s: float = 30.0
    """The raw baseline's swing in the burst is compared with its swing over this much
    before it, s: wander that was there before (sweat, the leads' slow motion) is not
    the burst's doing."""
    swing_new_x: float = 2.0
    """A loose lead swings the baseline anew: the burst's windowed swing (µV) must be at
    least this many times the swing before it for the swing rule, unitless."""
    pop_max_s: float = 3.0
    """A low-frequency burst shorter than this is an electrode pop, s."""
    artifact_min_f_hz: float = 0.0
    """Effective frequency (TKEO) below which a burst is not EMG, Hz (0 = off)."""
    flat_x_rest: float = 0.05
    """A second whose EMG-band median is below this fraction of rest carries no signal
    (electrode off / flat); such seconds never feed the resting level, unitless."""
    flat_min_s: int = 2
    """Shortest flat spell reported as an electrode-off artifact, s."""
    flat_frame_frac: float = 0.5
    """A second is flat on a channel when at least this fraction of its frames are,
    unitless."""
    flat_rv_uv2: float = 1e-6
    """Raw in-frame variance below which a frame is flat (stuck/clipped), µV²."""
    spike_max_s: float = 0.35
    """ECG spikes are narrow: every burst of the train at most this long, s."""
    heart_period_s: tuple[float, float] = (0.4, 1.5)
    """Heart-beat period range (40-150 bpm), s."""
    ecg_min_spikes: int = 5
    """Spikes in a train to call ECG bleed, count."""
    wake_quiet_s: float = 180.0
    """The sleeper is taken to be awake from the start of the recording and after a
    cramp, walking, a stretch or a posture change, until the first this-long stretch
    without movement other than single leg-movement-like bursts, s: leg movements meanwhile are not PLMS (AASM scores
    PLMS in sleep; sleepers lie awake minutes after a cramp, Hallegraeff 2017) ..."""
    wake_max_s: float = 1200.0
    """... or for at most this long, s (a 20-min sleep latency)."""
    wake_subtypes: tuple[str, ...] = ("walking", "stretch", "posture")
    """Movement subtypes that mean the sleeper is awake."""
    asleep_quiet_s: float = 300.0
    """Quiet time before a cramp's onset that makes ``asleep_before``, s ..."""
    asleep_active_frac: float = 0.1
    """... with at most this fraction of active accelerometer seconds in it, unitless ..."""
    asleep_min_t_s: float = 60.0
    """... and never in the recording's first this long, s (nothing known before)."""
    after_window_s: int = 600
    """How far after a cramp movement, walking and activity are looked for (its
    ``moved_after_s``, ``walked_after_s``, ``awake_after_s`` context), s."""
    after_slack_s: float = 1.0
    """Events starting up to this long before a cramp's end count as after it, s."""
    woke_min_cramp_s: float = 30.0
    """A cramp at least this long wakes the sleeper (``woke_after``), s (our choice)."""
    active_acc_g: float = 0.02
    """Acc activity above which a second counts as active, g (sleep/wake)."""
    standing_near_s: int = 10
    """Upright counts as standing when walking or moving within this many seconds, else
    sitting, s (our rule: the shank alone cannot tell them apart)."""

    # --- sleep/wake epochs (Cole-Kripke) --------------------------------------------
    epoch_s: int = 30
    """Sleep/wake epoch length, s (AASM scoring epoch)."""
    cole_weights: tuple[float, ...] = (106.0, 54.0, 58.0, 76.0, 230.0, 74.0, 67.0)
    """Relative weights of the active seconds of epochs -4..+2 around the scored one
    (Cole, Kripke et al. 1992, Sleep 15:461), normalised to sum 1, unitless."""
    cole_lead: int = 4
    """Epochs before the scored one that ``cole_weights`` start at, count (Cole 1992)."""
    wake_score_s: float = 3.0
    """Weighted active seconds per epoch at or above which it is wake, s (our choice)."""
    epoch_upright_s: int = 15
    """An epoch with at least this many upright seconds (half of it) is wake, s."""
    epoch_min_data_s: int = 15
    """An epoch with fewer seconds of data than this is a ``gap``, s."""

    def interval_rule(self) -> str:
        """The standard the series intervals follow: ``WASM 2016`` from 10 s, else
        ``AASM 2007``."""
        return "WASM 2016" if self.plm_min_interval_s >= 10.0 else "AASM 2007"
