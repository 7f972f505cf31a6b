// Clock skew for one node process of the fault suite: loaded with `node --import` before the node
// starts, it moves the process's wall clock (Date.now and new Date()) by MEDLEDGER_FAULT_CLOCK_SKEW_MS.
// Timers and performance.now are left alone, as with a real machine whose clock is set wrong.
const skewMs = Number(process.env.MEDLEDGER_FAULT_CLOCK_SKEW_MS ?? '0');
if (Number.isFinite(skewMs) && skewMs !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args: ConstructorParameters<typeof Date> | []) {
      if (args.length === 0) super(realNow() + skewMs);
      else super(...(args as ConstructorParameters<typeof Date>));
    }
    static override now(): number {
      return realNow() + skewMs;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}
export {};
