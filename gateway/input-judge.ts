// The input-health verdict of one scope (README "Input health and degrade"): pure, so unit and
// property tests drive it. A scope is degraded when its actions fall far below their own baseline
// while its agents are still connected (an upstream cut, not the end of a shift), or when the
// gateways could not store its events. The baseline is a moving average that stands still while
// the scope is degraded, so an outage never teaches it that silence is normal.
import type { InputThresholds, ScopeSample } from '../db/input-health.ts';

export interface JudgeState {
  degraded: boolean;
  reason: string | null;
  baselineActions: number | null;
  baselineConnected: number | null;
  /** Evaluations that fed the baseline. */
  samples: number;
}

export const FRESH_SCOPE: JudgeState = {
  degraded: false,
  reason: null,
  baselineActions: null,
  baselineConnected: null,
  samples: 0,
};

export interface Judgement {
  next: JudgeState;
  change?: 'degraded' | 'recovered';
}

/**
 * `sample` covers the last `windowSec` seconds; `dtSec` is the time since the previous evaluation
 * (how far the baseline moves). The baseline counts once it has seen a whole window of samples.
 */
export function judge(
  prev: JudgeState,
  sample: Pick<ScopeSample, 'actions' | 'connected' | 'storeErrors'>,
  t: InputThresholds,
  windowSec: number,
  dtSec: number,
): Judgement {
  const warm = prev.samples * dtSec >= windowSec && prev.baselineActions !== null && prev.baselineConnected !== null;
  const ratio = prev.degraded && prev.reason === 'RATE_DROP' ? t.recoverRatio : t.dropRatio;
  const rateDrop =
    warm &&
    prev.baselineActions! >= t.minBaselineActions &&
    sample.connected >= t.minConnected &&
    sample.connected >= t.connectedRatio * prev.baselineConnected! &&
    sample.actions < ratio * prev.baselineActions!;
  const storeErrors = sample.storeErrors > 0;
  const degraded = storeErrors || rateDrop;
  const reason = storeErrors ? 'STORE_ERRORS' : rateDrop ? 'RATE_DROP' : null;
  const alpha = Math.min(1, Math.max(0, dtSec / t.baselineSec));
  const follow = (base: number | null, x: number) => (base === null ? x : base + alpha * (x - base));
  const next: JudgeState = degraded
    ? { ...prev, degraded, reason }
    : {
        degraded,
        reason,
        baselineActions: follow(prev.baselineActions, sample.actions),
        baselineConnected: follow(prev.baselineConnected, sample.connected),
        samples: prev.samples + 1,
      };
  const change = degraded && !prev.degraded ? 'degraded' : !degraded && prev.degraded ? 'recovered' : undefined;
  return change ? { next, change } : { next };
}
