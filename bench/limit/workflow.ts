// The simplest workflow shaped like an agent: it wakes on a signal and sleeps on a timer, forever.
// `npm run bench` drives it to find how many workflow tasks per second the dev server sustains.
import { condition, defineSignal, setHandler, sleep } from '@temporalio/workflow';

export const poke = defineSignal('poke');

export async function sleeper(): Promise<void> {
  let pending = 0;
  setHandler(poke, () => {
    pending++;
  });
  for (;;) {
    await condition(() => pending > 0);
    pending = 0;
    await sleep(1000);
  }
}
