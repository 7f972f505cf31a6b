// Stopping the server processes a benchmark started (etcd members, MedLedger orderers): ask each
// to stop its own way, and kill one that has not exited within the grace period, so a bench never
// leaves a process behind or waits forever on one.
import type { ChildProcess } from 'node:child_process';

const STOP_GRACE_MS = 5_000;

export async function stopChildren(children: readonly ChildProcess[], askToStop: (child: ChildProcess) => void): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.kill('SIGKILL'), STOP_GRACE_MS);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          askToStop(c);
        }),
    ),
  );
}
