// Ctrl-C in a terminal sends SIGINT to every process of `npm start`, which then also sends each
// child SIGTERM: a process must stop once, on whichever signal comes first, and ignore the rest.
export function onStopSignal(stop: () => unknown): void {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      void stop();
    });
  }
}
