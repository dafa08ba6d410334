// What lanes report to the dispatcher's metrics (workers/metrics.ts implements it).
export interface LaneHooks {
  delivered(lane: string, committedAt: Date[]): void;
  failed(lane: string, dead: boolean): void;
}

export const NO_HOOKS: LaneHooks = { delivered() {}, failed() {} };
