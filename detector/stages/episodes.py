"""Episodes: bursts closer than ``merge_gap_s`` form one episode; its cramp cores.

* :class:`Episodes`: the open episode (stage state); a burst joins it when it starts
  less than ``merge_gap_s`` after its end (below the 5-10 s minimum PLM interval of
  AASM/WASM, above a stride's swing phase) and the episode stays within
  ``max_segment_s``.
* :func:`cramp_cores`: sustained high calf activity inside an episode, with the onset
  walked back down the rise and the end walked forward down the fall.
* :func:`hold_end`: where a long cramp that waned below its core level lets go.
* :func:`leftover_parts`: what is left of an episode around its cramps, grouped again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from detector.config import DetectorConfig
from detector.stages.features import block_means, moving_mean, rhythm_peak


@dataclass
class Segment:
    """One burst: frames ``k0 .. k1 - 1``."""

    k0: int
    k1: int  # exclusive


@dataclass
class Episode:
    segs: list[Segment] = field(default_factory=list)

    @property
    def k0(self) -> int:
        return self.segs[0].k0

    @property
    def k1(self) -> int:
        return self.segs[-1].k1


class Episodes:
    """The open episode: ``joins(seg)`` appends a burst if it belongs, else the caller
    closes :attr:`episode` (:meth:`take`) and :meth:`open` s a new one."""

    def __init__(self, cfg: DetectorConfig, fps: float) -> None:
        self.merge = int(round(cfg.merge_gap_s * fps))
        self.max_seg = int(round(cfg.max_segment_s * fps))
        self.episode: Episode | None = None

    def joins(self, seg: Segment) -> bool:
        ep = self.episode
        if ep is None:
            return False
        too_long = (seg.k1 - ep.k0) > self.max_seg
        if seg.k0 - ep.k1 < self.merge and not too_long:
            ep.segs.append(seg)
            return True
        return False

    def open(self, seg: Segment) -> None:
        self.episode = Episode([seg])

    def take(self) -> Episode | None:
        ep, self.episode = self.episode, None
        return ep

    def quiet(self, k_done: int, open_k0: int | None) -> bool:
        """No burst for ``merge_gap_s`` after the episode (``open_k0``: the start of the
        burst still open, which may yet join it)."""
        ep = self.episode
        assert ep is not None
        return k_done >= ep.k1 + self.merge and not (
            open_k0 is not None and open_k0 - ep.k1 < self.merge
        )


def rise_onset(y: np.ndarray, k_lo: int, k_hi: int, e_lo: int | None = None, step: int = 2) -> int:
    """The knee of a rise: the ``k`` in ``[k_lo, k_hi]`` whose continuous fit
    ``c + s * clip(t - k, 0, e - k)`` (flat, a rising ramp, ``s > 0``, then flat again
    from ``e``) to ``y`` leaves the least squared error.  ``e_lo`` None: the ramp runs to
    the end of ``y``; else the rise may level off at any ``e >= e_lo`` (searched every
    ``step`` points): a rise fitted past its top by a ramp that never stops is pulled
    early.  All knees at once from the fits' normal equations."""
    n = y.size
    k_hi = min(k_hi, n - 1)
    if n < 3 or k_hi <= k_lo:
        return max(0, min(k_lo, n - 1))
    t = np.arange(n, dtype=float)
    ks = np.arange(k_lo, k_hi + 1, dtype=float)
    sy, syy = float(y.sum()), float(y @ y)
    ends = [n] if e_lo is None else range(max(e_lo, k_lo + 1), n + 1, step)
    best, best_k = np.inf, k_hi
    for e in ends:
        h = np.clip(t[None, :] - ks[:, None], 0.0, np.maximum(e - ks, 0.0)[:, None])
        sh, shh, shy = h.sum(axis=1), (h * h).sum(axis=1), h @ y
        det = n * shh - sh * sh
        ok = det > 1e-9
        safe = np.where(ok, det, 1.0)
        c = (shh * sy - sh * shy) / safe
        slope = (n * shy - sh * sy) / safe
        sse = np.where(ok & (slope > 0) & (ks < e), syy - c * sy - slope * shy, np.inf)
        i = int(np.argmin(sse))
        if sse[i] < best:
            best, best_k = float(sse[i]), int(ks[i])
    return best_k


def running_p90(env: np.ndarray, start: int, block: int) -> np.ndarray:
    """Per frame, the highest 90th percentile of any whole ``block`` of ``env`` from
    ``start`` up to its own (``inf`` before ``start``): the level of what the episode has
    been so far, blind to what follows and not forgetting it (a walk before a long spell
    of standing still keeps holding the standing tone to the strides' level)."""
    out = np.full(env.size, np.inf)
    n = env.size - start
    if n <= 0:
        return out
    nf = n // block
    p = np.percentile(env[start : start + nf * block].reshape(nf, block), 90, axis=1)
    if n > nf * block:  # the last, partial block
        p = np.r_[p, np.percentile(env[start + nf * block :], 90)]
    out[start:] = np.repeat(np.maximum.accumulate(p), block)[:n]
    return out


def let_go(env: np.ndarray, j: int, lim: int, cfg: DetectorConfig, fps: float) -> int:
    """Where the calf, contracted from index ``j`` (a cramp core, or its hold), starts
    falling back near rest again and again: the start of the first of ``cramp_letgo_s``
    seconds in a row whose ``cramp_hold_win_s`` windows have P10/P90 below
    ``cramp_min_depth`` (strides or rubbing: the calf drops towards rest between bursts;
    a cramp's troughs stay far above rest, Minetto 2009); ``lim`` when there is none.
    Where the walking starts, read from the EMG (with or without an accelerometer)."""
    sec = max(1, int(round(fps)))
    w = max(sec, int(round(cfg.cramp_hold_win_s * fps)))
    run = max(1, int(round(cfg.cramp_letgo_s)))
    lim = min(lim, env.size)
    if lim - j < w:
        return lim
    win = np.lib.stride_tricks.sliding_window_view(env[j:lim], w)[::sec]
    p10, p90 = np.percentile(win, [10, 90], axis=1)
    low = np.r_[p10 < cfg.cramp_min_depth * p90, False].astype(np.int8)
    # the first index where `run` windows in a row are low
    c = np.convolve(low, np.ones(run, dtype=np.int8), mode="valid")
    hit = np.flatnonzero(c >= run)
    return j + int(hit[0]) * sec if hit.size else lim


def _strides(b: np.ndarray, core: np.ndarray, cfg: DetectorConfig, fps: float) -> bool:
    """Whether ``b`` (a calf envelope beside the core ``core``) beats at a stride period
    (:func:`~detector.stages.features.rhythm_peak` >= ``stride_ac_min``: a peak of the
    autocorrelation, which a step or a lone burst has not; decimated to
    ``stride_env_hz``) with a 90th percentile ``strides_before_x`` times the core's or
    more (the strides push the body off, the tone beside them holds it up)."""
    if core.size == 0:
        return False
    if float(np.percentile(b, 90)) < cfg.strides_before_x * float(np.percentile(core, 90)):
        return False
    dec = max(1, int(round(fps / cfg.stride_env_hz)))
    e = block_means(b, dec)
    lo, hi = cfg.stride_period_s
    return rhythm_peak(e, fps / dec, 1.0 / hi, 1.0 / lo)[0] >= cfg.stride_ac_min


def strides_before(env: np.ndarray, j0: int, j1: int, cfg: DetectorConfig, fps: float) -> bool:
    """Whether the calf walked right up to the core ``[j0, j1)`` of ``env``, read from
    the EMG alone: strides (:func:`_strides`) over the ``strides_before_s`` before it.
    A cramp rises out of rest or a quieter pre-rise; the tone of standing still follows
    a walk."""
    w = int(round(cfg.strides_before_s * fps))
    if j0 < w or j1 <= j0:
        return False
    return _strides(env[j0 - w : j0], env[j0:j1], cfg, fps)


def strides_after(env: np.ndarray, j0: int, j1: int, cfg: DetectorConfig, fps: float) -> bool:
    """Whether strides (:func:`_strides`) fill the ``strides_before_s`` right after the
    core ``[j0, j1)`` of ``env`` (all of them inside ``env``)."""
    w = int(round(cfg.strides_before_s * fps))
    if env.size - j1 < w or j1 <= j0:
        return False
    return _strides(env[j1 : j1 + w], env[j0:j1], cfg, fps)


def _step_start(env: np.ndarray, a: int, b: int, cfg: DetectorConfig, fps: float) -> int:
    """Where a core's envelope steps up suddenly after a plateau: the start of the
    second (of 1-s blocks) from which the median of the ``cramp_min_s`` that follow a
    ``cramp_rise_max_s`` rise is ``cramp_step_x`` times the median of the
    ``cramp_step_pre_s`` before it, the plateau having lasted that long; ``a`` when there
    is none.  A pre-cramp rise loud enough to pass the core level (41 +- 11 s, Chaney &
    Sherman) is not the cramp: the cramp is the sudden rise out of it (DOMAIN)."""
    sec = max(1, int(round(fps)))
    n = (b - a) // sec
    pre = int(round(cfg.cramp_step_pre_s))
    rise = int(round(cfg.cramp_rise_max_s))
    post = int(round(cfg.cramp_min_s))
    if n < pre + rise + post:
        return a
    blk = env[a : a + n * sec].reshape(n, sec).mean(axis=1)
    for j in range(pre, n - rise - post + 1):
        before = float(np.median(blk[j - pre : j]))
        after = float(np.median(blk[j + rise : j + rise + post]))
        if after >= cfg.cramp_step_x * before:
            return a + (j - 1) * sec
    return a


def cramp_cores(
    env: np.ndarray,
    rest: np.ndarray,
    off: np.ndarray,
    start: int,
    cfg: DetectorConfig,
    fps: float,
) -> list[tuple[int, int, float]]:
    """Sustained high calf activity: ``(j0, j1, pre-rise s)`` as indices into ``env``.

    ``env`` is the joint calf envelope (µV RMS per frame) from a look-back before the
    episode (which starts at index ``start``) to its end; ``rest`` and ``off`` the calf
    rest and off levels on the same frames (NaN while unknown).

    Core level: ``max(cramp_core_x_rest x rest, cramp_core_frac x P90)`` of the calf
    envelope: above the highest pre-cramp rise (+500 %, Chaney & Sherman) and below the
    troughs of a cramp's waxing and waning (depth <= 45 %, Minetto 2009).  P90 is that of
    the episode so far (:func:`running_p90`) where lower than the whole episode's: the
    strides of walking a cramp off, many times its level, do not hide it.  Holes shorter
    than ``cramp_hole_s`` are bridged; runs of >= ``cramp_core_min_s`` are kept, each
    cut where the calf starts falling back near rest between bursts (:func:`let_go`);
    one shorter than ``cramp_min_s`` only when its cramp (onset to end, below) lasts
    that long.  The
    onset is the knee of the rise (:func:`rise_onset`, a ramp that may level off) within
    ``cramp_rise_max_s`` (+ 0.5 s) before the point where the envelope's 1-s mean first
    reaches ``cramp_rise_top`` x the core's median, fitted over ``cramp_onset_flat_s``
    more before it (the level the rise leaves: the local baseline of Severini 2012's
    adaptive double threshold, here a fitted one) and a second after it; the end is
    walked forward down the fall to the off level, stopping at a new burst over the core
    level (the next stride).
    """
    inner = env[start:]
    p90 = np.minimum(
        float(np.percentile(inner, 90)),
        running_p90(env, start, max(1, int(round(fps)))),
    )
    level = np.maximum(rest * cfg.cramp_core_x_rest, cfg.cramp_core_frac * p90)
    hi = env > level
    hi[:start] = False
    idx = np.flatnonzero(hi)
    if idx.size == 0:
        return []
    hole = int(round(cfg.cramp_hole_s * fps))
    brk = np.flatnonzero(np.diff(idx) > hole + 1) + 1
    starts = idx[np.r_[0, brk]]
    ends = idx[np.r_[brk - 1, idx.size - 1]] + 1
    runs = []
    min_len = int(round(cfg.cramp_min_s * fps))
    min_run = min(min_len, int(round(cfg.cramp_core_min_s * fps)))
    back = int(round(cfg.cramp_rise_max_s * fps))
    flat = int(round(cfg.cramp_onset_flat_s * fps))
    sec = max(1, int(round(fps)))
    for a, b in zip(starts, ends, strict=True):
        if b - a < min_run:
            continue
        a, b = int(a), int(b)
        b = let_go(env, a, b, cfg, fps)  # strides or rubbing bridged by their tone
        if b - a < min_run:
            continue
        a = _step_start(env, a, b, cfg, fps)
        # onset: the knee where the envelope leaves the level before it and starts the
        # rise to the cramp (a continuous flat-then-ramp fit): a threshold on that level
        # lands mid-rise on a slow rise, and inside a pre-cramp rise that ramps itself
        # the top is found on the envelope's 1-s mean: a pre-cramp rise close to a
        # moderate cramp's level crosses the fraction in its noise peaks, the mean only
        # where the cramp's own rise carries it (up to half a second later, so the
        # knee is searched that much further back)
        med = float(np.median(env[a:b]))
        m = moving_mean(env[a:b], sec)
        top = a + int(np.argmax(m >= cfg.cramp_rise_top * med))
        k_lo = max(start, top - back - sec // 2)
        w0 = max(0, k_lo - flat)
        # the fit runs on a second past the top: enough of the ramp to stand out of a
        # pre-rise's noise; the ramp may level off in it (rise_onset)
        w1 = min(b, top + sec + 1)
        y = env[w0:w1]
        j = rise_onset(y, k_lo - w0, top - w0, e_lo=top - w0) + w0
        # end: walk forward down the fall to the off level (or the post level)
        fwd = int(round(cfg.cramp_fall_max_s * fps))
        e = b
        lim = min(env.size, b + fwd)
        tail = cfg.cramp_fall_floor * med
        # a new burst back over the core level after the fall (held there longer than a
        # hole: the next stride, not a flicker of the waning) is no fall
        below = False
        while e < lim and env[e] > off[e] and env[e] > tail:
            if env[e] > level[e]:
                if below and bool((env[e : e + hole + 1] > level[e : e + hole + 1]).all()):
                    break
            else:
                below = True
            e += 1
        pre_s = 0.0
        seg_start = max(start, 0)
        if j > seg_start:
            pre_s = (j - seg_start) / fps
        if b - a < min_len and e - j < min_len:
            continue  # a short core: the whole of it, rise to fall, must last cramp_min_s
        runs.append((j, e, pre_s))
    return runs


def tib_takeover(
    calf_x: np.ndarray, tib_x: np.ndarray, j0: int, j1: int, cfg: DetectorConfig, fps: float
) -> int:
    """Where the tibialis takes over inside a cramp core ``[j0, j1)``: the first index,
    at least ``cramp_min_s`` after ``j0``, from which the tibialis (its envelope x its
    own rest, 1-s centred mean) stays above the calf's for ``tib_takeover_s``: a
    stretch (pulling the foot up, DOMAIN) or turning over that ends the cramp while the
    calf still fires.  A calf cramp is the calf's (PLMs and stretches are the
    tibialis'), so the core ends there; ``j1`` when the tibialis never takes over (a lead
    that began before ``cramp_min_s`` is left to the classifier: no calf cramp then).
    ``calf_x`` and ``tib_x`` cover the same frames (NaN while the rest is unknown)."""
    sec = max(1, int(round(fps)))
    lo = j0 + int(round(cfg.cramp_min_s * fps))
    if j1 - lo <= 0:
        return j1
    run = int(round(cfg.tib_takeover_s * fps))
    c = moving_mean(np.nan_to_num(calf_x[j0:j1]), sec)
    t = moving_mean(np.nan_to_num(tib_x[j0:j1]), sec)
    over = t > c
    if not over.any():
        return j1
    # runs of frames where the tibialis leads, at least ``run`` long, after ``lo``
    d = np.diff(np.r_[0, over.astype(np.int8), 0])
    a = np.flatnonzero(d == 1)
    b = np.flatnonzero(d == -1)
    ok = (b - a >= min(run, j1 - j0)) & (a + j0 >= lo)
    if not ok.any():
        return j1
    return j0 + int(a[np.argmax(ok)])


def hold_end(
    env: np.ndarray,
    rest: np.ndarray,
    off: np.ndarray,
    j: int,
    lim: int,
    cfg: DetectorConfig,
    fps: float,
    floor: float = 0.0,
) -> int:
    """Where a cramp ending at index ``j`` lets go, if the calf holds on after it: the
    first index from ``j`` on where the calf envelope's centred mean over
    ``cramp_hold_win_s`` falls below ``cramp_hold_x_rest`` x rest (or below ``floor``,
    µV: a fraction of the cramp's own level), walked forward down
    the fall to the off level (at most ``cramp_fall_max_s``); ``j`` itself when the hold
    is shorter than ``cramp_hold_min_s``.  Never past ``lim``.  ``env``, ``rest`` and
    ``off`` as in :func:`cramp_cores` (NaN rest never holds)."""
    lim = min(lim, env.size)
    if lim - j < cfg.cramp_hold_min_s * fps:
        return j
    w = max(1, int(round(cfg.cramp_hold_win_s * fps)))
    lo = max(0, j - w // 2)
    m = moving_mean(env[lo:lim], w)[j - lo :]
    with np.errstate(invalid="ignore"):
        low = ~(m >= np.maximum(cfg.cramp_hold_x_rest * rest[j:lim], floor))
    h = j + (int(np.argmax(low)) if low.any() else lim - j)
    if h - j < cfg.cramp_hold_min_s * fps:
        return j
    e, stop = h, min(lim, h + int(round(cfg.cramp_fall_max_s * fps)))
    while e < stop and env[e] > off[e]:
        e += 1
    return e


def leftover_parts(
    segs: list[Segment],
    cramps: list[tuple[Segment, float]],
    fps: float,
    min_frames: int,
    merge: int,
) -> list[list[Segment]]:
    """The bursts of an episode with its cramps (and each one's pre-rise) cut out,
    pieces shorter than ``min_frames`` dropped, regrouped into parts ``merge`` apart.

    The pre-cramp rise right before a cramp is context, not an event.
    """
    rest: list[Segment] = []
    for sg in segs:
        pieces = [(sg.k0, sg.k1)]
        for c, pre in cramps:
            nxt = []
            for a, b in pieces:
                lo = c.k0 - int(round(pre * fps))
                if b <= lo or a >= c.k1:
                    nxt.append((a, b))
                    continue
                if a < lo:
                    nxt.append((a, lo))
                if b > c.k1:
                    nxt.append((c.k1, b))
            pieces = nxt
        rest += [Segment(a, b) for a, b in pieces if b - a >= min_frames]
    parts: list[list[Segment]] = []
    group: list[Segment] = []
    for sg in rest:
        if group and sg.k0 - group[-1].k1 >= merge:
            parts.append(group)
            group = []
        group.append(sg)
    if group:
        parts.append(group)
    return parts
