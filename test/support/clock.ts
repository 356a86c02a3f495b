/** A clock tests move by hand: expiry, rotation and replay windows without sleeping. */
export class TestClock {
  constructor(public now = Date.UTC(2026, 10, 28, 12, 0, 0)) {}

  /** Bound, so it can be passed where `() => number` is expected. */
  readonly read = (): number => this.now;

  advance(ms: number): void {
    this.now += ms;
  }

  advanceSeconds(s: number): void {
    this.now += s * 1000;
  }
}
