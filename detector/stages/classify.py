"""Burst -> kind rules: every burst of leg EMG becomes cramp, plm, movement or artifact.

The rules work on :class:`BurstFeatures`, measured by the detector over one burst (a
*segment*: activity ending at the start of >= 0.5 s of quiet, AASM/WASM) or over a group
of segments close in time (an *episode*).  All thresholds live in
:class:`detector.config.DetectorConfig` with their unit and source; this module only
combines them, in this order (first rule that fires wins):

1. artifact  -- the burst is not EMG: low-frequency or mains dominated (electrode pop,
   electrode off), flat/saturated, or a train of narrow spikes at the heart rate (ECG).
2. walking   -- periodic stride-like bursts (~1 per second) or sustained acc activity while
   upright.  Checked before cramp: walking smoothed too much looks like one contraction.
3. cramp     -- sustained (>= cramp_min_s), intense (many x rest) calf activity that does
   not drop to rest, EMG-like, not stride-periodic.
4. stretch   -- sustained tibialis activity with a passive calf.
5. turning   -- the shank's gravity vector turns by >= turn_angle_deg.
6. leg movement (0.5-10 s, AASM) -> candidate for a PLM series (decided later);
   twitch (< 0.5 s); anything else -> movement/fidget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detector.config import DetectorConfig


@dataclass
class BurstFeatures:
    start_s: float
    end_s: float
    n_segments: int
    seg_durations: list[float]
    seg_onsets: list[float]
    sustain: float
    """Fraction of the burst's frames above the off threshold (0..1)."""
    cramp_x_rest: float
    """Median envelope over the burst on the cramp-site channel, as a multiple of rest."""
    cramp_peak_x_rest: float
    tib_x_rest: float
    """Median envelope on the tibialis channel as a multiple of rest (0 if none)."""
    has_tibialis: bool
    calf_uv: float
    """Median envelope on the calf channel(s), µV RMS."""
    tib_uv: float
    """Median envelope on the tibialis channel, µV RMS (0 if none)."""
    calf_exc_uv: float
    """90th percentile of the calf envelope's excess over its rest, µV."""
    tib_exc_uv: float
    """Same on the tibialis, µV (0 if none)."""
    lf_ratio: float
    """Raw in-frame variance / band-passed power (1 for clean EMG; >> 1 for mains/pops)."""
    step_ratio: float
    """Excursion of the raw 10-ms mean / peak band-passed envelope (clean EMG < 1)."""
    step_ratio_win: float
    """The same in windows of ``step_long_window_s``, median over the burst's windows."""
    swing_new: bool
    """The baseline swings more than before the burst (``swing_new_x``)."""
    hf_ratio: float
    """Band shape: power density at 250-400 Hz over 60-150 Hz on the main calf channel,
    median over the burst's seconds (NaN when the rate is too low to tell)."""
    line_excess: float
    """On that channel: the rise of the power within 3 Hz of a multiple of 50 or 60 Hz,
    over the rise of all the 20-450 Hz power, from before the burst to during it (~0.25
    for muscle, -> 1 when only hum rose; NaN as above)."""
    f_eff_hz: float
    """Effective frequency of the band-passed EMG from TKEO / mean square (Hz)."""
    flat_frac: float
    """Fraction of frames whose raw signal is flat (stuck or clipped)."""
    stride_ac: float
    """Peak autocorrelation of the envelope at stride lags (0..1)."""
    stride_period_s: float
    depth: float
    """P10 / P90 of the envelope: ~0 when it returns to rest between bursts."""
    rhythm_ac: float
    """Autocorrelation of the calf envelope's strongest rhythm at ``rhythm_hz`` of the
    config (its slow waxing removed; :func:`~detector.stages.features.rhythm_peak`),
    0 when none."""
    rhythm_hz: float
    """... and its frequency, Hz (0 when none)."""
    acc_activity_g: float | None
    """Median acc activity during the burst (g), None without accelerometer."""
    acc_upright: bool | None
    turn_deg: float | None
    in_lm_series: bool = False
    """Set by the detector: starts ``plm_min_interval_s`` .. ``plm_max_interval_s`` after
    the previous leg movement."""
    upright_before: bool | None = None
    """Set by the detector for a cramp core: the sleeper was on the feet next to it (the
    shank upright and moving like walking just before it, standing since a walk or up to
    one, or still standing from the core before; None: unknown, or not asked)."""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class Verdict:
    kind: str
    subtype: str
    reason: str
    confidence: float
    lm_candidate: bool = False


def _periodic_train(
    f: BurstFeatures, lo: float, hi: float, min_n: int, cfg: DetectorConfig
) -> bool:
    """>= min_n segments whose onset intervals are regular (:func:`regular_train`)."""
    return regular_train(f.seg_onsets, lo, hi, min_n, cfg)


def regular_train(
    onsets: list[float], lo: float, hi: float, min_n: int, cfg: DetectorConfig
) -> bool:
    """>= min_n onsets (s, ascending) whose intervals are regular (``train_regular_band``
    / ``train_regular_frac``) with a median within [lo, hi] s."""
    if len(onsets) < min_n:
        return False
    iv = [b - a for a, b in zip(onsets, onsets[1:], strict=False)]
    iv = sorted(iv)
    med = iv[len(iv) // 2]
    if not lo <= med <= hi:
        return False
    a, b = cfg.train_regular_band
    good = sum(1 for x in iv if a * med <= x <= b * med)
    return good >= cfg.train_regular_frac * len(iv)


def cramp_level(f: BurstFeatures, cfg: DetectorConfig) -> float:
    """The calf median (x rest) a cramp needs: ``cramp_min_x_rest``, or the core level
    ``cramp_long_x_rest`` for a contraction held ``cramp_long_s`` or more whose troughs
    stay up (P10/P90 >= ``cramp_long_depth``): longer than any pre-cramp rise, and no
    fidget or rubbing holds that long without falling back."""
    if f.duration_s >= cfg.cramp_long_s and f.depth >= cfg.cramp_long_depth:
        return cfg.cramp_long_x_rest
    return cfg.cramp_min_x_rest


def classify(f: BurstFeatures, cfg: DetectorConfig, allow_cramp: bool = True) -> Verdict:
    d = f.duration_s
    max_seg = max(f.seg_durations) if f.seg_durations else d

    # 1. artifacts ------------------------------------------------------------------
    if f.flat_frac >= cfg.saturation_frac:
        return Verdict(
            "artifact",
            "saturation",
            f"raw signal flat or clipped in {f.flat_frac:.0%} of the burst",
            0.9,
        )
    if f.step_ratio >= cfg.artifact_step_ratio and d <= cfg.pop_max_s:
        return Verdict(
            "artifact",
            "pop",
            f"raw signal stepped {f.step_ratio:.0f}x the EMG envelope and decayed: electrode pop",
            0.85,
        )
    moving = f.acc_activity_g is not None and f.acc_activity_g >= cfg.walk_acc_g
    # a baseline swinging within seconds by more than the EMG envelope is no muscle;
    # measured in windows so that the slow wander of a good lead under a long cramp
    # (sweat, the leads moving, DOMAIN) does not add up to a swing
    if (
        f.step_ratio_win >= cfg.artifact_step_long
        and f.swing_new
        and d > cfg.pop_max_s
        and not moving
    ):
        return Verdict(
            "artifact",
            "electrode-off",
            f"raw baseline swings {f.step_ratio_win:.1f}x the EMG envelope with the leg "
            "still: loose electrode",
            0.8,
        )
    steady = f.depth >= cfg.steady_depth_min and f.cramp_x_rest >= cfg.cramp_min_x_rest
    if steady and d >= cfg.steady_min_s:
        return Verdict(
            "artifact",
            "electrode-off",
            f"steady noise at {f.cramp_x_rest:.0f}x rest without the waxing and waning of a "
            f"contraction (P10/P90 {f.depth:.2f})",
            0.75,
        )
    # raw power far above the band's: hum or a step, not EMG.  But where the band
    # shape shows a sustained, cramp-like rise to be muscle (its line share is that of
    # muscle), the raw power is hum a good lead carried all along (strong mains): the
    # cramp rules and the open-lead tests below judge it
    sustained = d >= cfg.cramp_min_s and f.sustain >= cfg.cramp_min_sustain
    loud_sustained = sustained and f.cramp_x_rest >= cramp_level(f, cfg)
    muscle_rise = (
        loud_sustained and f.line_excess < cfg.open_lead_line_excess
    )  # False where the line share is unmeasured (NaN)
    if f.lf_ratio >= cfg.artifact_lf_ratio and not muscle_rise:
        sub = "pop" if d < cfg.pop_max_s else "electrode-off"
        return Verdict(
            "artifact",
            sub,
            f"raw power {f.lf_ratio:.0f}x the EMG-band power: low-frequency/mains dominated",
            0.85,
        )
    if f.f_eff_hz < cfg.artifact_min_f_hz:
        return Verdict(
            "artifact",
            "low-frequency",
            f"effective EMG frequency {f.f_eff_hz:.0f} Hz < {cfg.artifact_min_f_hz:.0f} Hz",
            0.7,
        )
    spiky = max_seg <= cfg.spike_max_s and _periodic_train(
        f, cfg.heart_period_s[0], cfg.heart_period_s[1], cfg.ecg_min_spikes, cfg
    )
    if spiky:
        return Verdict(
            "artifact",
            "ecg",
            f"{f.n_segments} narrow spikes (<= {cfg.spike_max_s} s) at a heart-rate period",
            0.7,
        )

    # 2. walking --------------------------------------------------------------------
    lo, hi = cfg.stride_period_s
    stride_train = _periodic_train(f, lo, hi, cfg.walk_min_strides, cfg)
    # strides: the calf falls back to rest in every swing phase, so a periodic envelope
    # counts only with a real share of the time at rest (a cramp's 1.4 Hz waxing and
    # waning never returns to rest, Minetto 2009)
    stride_env = (
        f.stride_ac >= cfg.stride_ac_min
        and f.sustain < cfg.cramp_min_sustain
        and f.cramp_peak_x_rest >= cfg.on_x_rest
        and d >= cfg.walk_min_strides * max(lo, f.stride_period_s)
    )
    acc_walk = (
        f.acc_activity_g is not None
        and f.acc_activity_g >= cfg.walk_acc_g
        and bool(f.acc_upright)
        and d >= cfg.walk_min_strides * lo
    )
    # the accelerometer vetoes: a shank lying still that never turned (got up) is not
    # walking, however periodic the calf (a cramp waxing and waning at ~1 Hz; DOMAIN: the
    # accelerometer confirms and vetoes)
    lying_still = (
        f.acc_activity_g is not None
        and f.acc_activity_g < cfg.walk_acc_g
        and f.acc_upright is False
        and (f.turn_deg is None or f.turn_deg < cfg.turn_angle_deg)
    )
    if lying_still:
        stride_train = stride_env = False
    if stride_train or stride_env or acc_walk:
        why = []
        if stride_train:
            why.append(f"{f.n_segments} bursts at a stride period")
        if stride_env:
            why.append(f"envelope periodic at {f.stride_period_s:.1f} s (r={f.stride_ac:.2f})")
        if acc_walk:
            why.append(f"upright with acc activity {f.acc_activity_g:.2f} g")
        return Verdict("movement", "walking", "; ".join(why), 0.8)

    # 3. cramp ----------------------------------------------------------------------
    shaking = f.acc_activity_g is not None and f.acc_activity_g >= cfg.walk_acc_g
    if allow_cramp and shaking and d >= cfg.cramp_min_s and f.cramp_x_rest >= cfg.cramp_min_x_rest:
        return Verdict(
            "movement",
            "shaking",
            f"{d:.0f} s of calf activity with the shank moving ({f.acc_activity_g:.2f} g): "
            "shaking or massaging, not a rigid cramp",
            0.6,
        )
    # standing still next to a walk: the soleus holds the body up (its postural tone,
    # many x the lying rest); a cramp that bites in bed starts lying.  Without an
    # accelerometer the walk is the strides the calf EMG shows right before it
    still = f.acc_activity_g is None or (
        f.acc_upright is True and f.acc_activity_g < cfg.walk_acc_g
    )
    standing = (
        f.upright_before is True and still and f.cramp_x_rest < cfg.standing_max_x_rest
    )
    if sustained and standing:
        how = (
            "right after strides in the calf EMG (no accelerometer)"
            if f.acc_activity_g is None
            else "with the shank upright and still next to a walk"
        )
        return Verdict(
            "movement",
            "standing",
            f"{d:.0f} s of calf activity at {f.cramp_x_rest:.0f}x rest {how}: "
            "postural tone while standing",
            0.6,
        )
    cramp_like = (
        loud_sustained
        and f.depth >= cfg.cramp_min_depth
        and (not f.has_tibialis or f.cramp_x_rest >= cfg.cramp_calf_vs_tib * f.tib_x_rest)
    )
    if cramp_like:
        # sustained and loud, but is it muscle?  An open lead is told by its spectrum:
        # the rise is mains hum, or a flat floor without muscle's band shape
        if f.line_excess >= cfg.open_lead_line_excess:
            return Verdict(
                "artifact",
                "electrode-off",
                f"{f.line_excess:.0%} of the rise is line hum (50/60 Hz and harmonics), "
                "muscle raises every frequency alike: open lead",
                0.8,
            )
        if f.hf_ratio >= cfg.open_lead_hf_ratio:
            return Verdict(
                "artifact",
                "electrode-off",
                f"as much power at 250-400 Hz as at 60-150 Hz (ratio {f.hf_ratio:.2f}): "
                "no muscle band shape, a flat noise floor: open lead",
                0.8,
            )
    # a leg shaken (no accelerometer to see it, or the shank held): the calf bursts at
    # every swing, faster than a cramp's waxing and waning and far more regularly
    rhythmic = f.rhythm_ac >= cfg.shake_min_ac and f.rhythm_hz >= cfg.shake_min_hz
    if cramp_like and rhythmic:
        return Verdict(
            "movement",
            "shaking",
            f"{d:.0f} s of calf activity beating at {f.rhythm_hz:.1f} Hz "
            f"(r={f.rhythm_ac:.2f}): shaking the leg, a cramp's motor units fire "
            "irregularly",
            0.6,
        )
    if allow_cramp and cramp_like:
        conf = 0.6
        conf += 0.1 * min(1.0, (f.cramp_x_rest - cfg.cramp_min_x_rest) / cfg.cramp_min_x_rest)
        conf += 0.1 * min(1.0, (d - cfg.cramp_min_s) / 30.0)
        conf += 0.1 * (f.sustain - cfg.cramp_min_sustain) / max(1e-9, 1 - cfg.cramp_min_sustain)
        return Verdict(
            "cramp",
            "calf",
            f"sustained {d:.0f} s calf activity at {f.cramp_x_rest:.0f}x rest "
            f"({f.sustain:.0%} of the time above rest), EMG-like, not periodic",
            round(min(0.95, conf), 3),
        )

    # 4. stretch --------------------------------------------------------------------
    if (
        f.has_tibialis
        and d >= cfg.stretch_min_s
        and f.tib_x_rest >= cfg.stretch_min_x_rest
        and f.tib_x_rest > f.cramp_x_rest
    ):
        return Verdict(
            "movement",
            "stretch",
            f"tibialis held {d:.0f} s at {f.tib_x_rest:.0f}x rest, calf passive "
            f"({f.cramp_x_rest:.1f}x)",
            0.75,
        )

    # 5. turning --------------------------------------------------------------------
    if f.turn_deg is not None and f.turn_deg >= cfg.turn_angle_deg:
        return Verdict(
            "movement", "turning", f"shank gravity vector turned {f.turn_deg:.0f} deg", 0.8
        )

    # 6. leg movements, twitches, fidgets ------------------------------------------
    if d < cfg.lm_min_s:
        return Verdict("movement", "twitch", f"{d:.2f} s burst, shorter than 0.5 s", 0.6)
    single = f.n_segments <= cfg.lm_max_segments  # an LM is one burst (AASM)
    if single and (d <= cfg.lm_max_s or (d <= cfg.cramp_lm_context_s and f.in_lm_series)):
        return Verdict(
            "movement",
            "leg-movement",
            f"{d:.1f} s leg movement (0.5-10 s, AASM) not in a periodic series",
            0.7,
            lm_candidate=True,
        )
    if sustained:
        if loud_sustained and f.depth < cfg.cramp_min_depth:
            why2 = (
                f"{d:.0f} s of calf bursts falling back towards rest between them "
                f"(P10/P90 {f.depth:.2f}): rubbing or shaking, not a held contraction"
            )
        else:
            why2 = f"sustained {d:.0f} s but only {f.cramp_x_rest:.1f}x rest on the calf"
    else:
        why2 = f"{d:.0f} s of intermittent activity ({f.sustain:.0%} above rest)"
    return Verdict("movement", "fidget", why2, 0.6)
