// The example workbench (README "Workbench SDK"): the smallest page that uses the SDK's browser
// bundle as a workbench would. It connects with the agent's token, reports clicks and keys
// (captureDom), sets work statuses and ticket actions, and shows the status and every push Vigil
// sends back. Plain JavaScript in a module script, no build step: `vigil-workbench.js` is the
// package's dist/browser/vigil-workbench.js (the gateway serves the same bundle next to this file).
import { EventType, WORK_STATUSES, WorkbenchClient } from './vigil-workbench.js';

const TOKEN_KEY = 'vigil-example-token';
const DEVICE_KEY = 'vigil-example-device';
const FEED_MAX = 50;

const $ = (id) => document.getElementById(id);

/**
 * The token comes in the link's fragment (`#token=…`), which the browser never sends to the server;
 * it moves to session storage and leaves the address bar.
 */
function takeToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function time(iso) {
  const el = document.createElement('time');
  el.dateTime = iso;
  el.textContent = new Date(iso).toLocaleTimeString();
  return el;
}

function showStatus(s) {
  const el = $('status');
  el.textContent = s.status;
  el.dataset.status = s.status;
  $('cause').textContent = s.cause ? `cause ${s.cause}` : '';
  $('since').replaceChildren('since ', time(s.since));
  for (const b of $('work-statuses').children) b.setAttribute('aria-pressed', String(b.dataset.status === s.status));
}

/** One line of the feed: when, the topic, and what it says (a status push: the status and its cause). */
function showPush(msg) {
  const li = document.createElement('li');
  li.dataset.topic = msg.topic;
  const d = msg.data ?? {};
  const what =
    msg.topic === 'status' ? `${d.status}${d.cause ? ` (${d.cause})` : ''}` : JSON.stringify(msg.data).slice(0, 200);
  li.append(time(new Date().toISOString()), `${msg.topic}: ${what}`);
  $('feed').prepend(li);
  while ($('feed').children.length > FEED_MAX) $('feed').lastElementChild.remove();
}

function start(token) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const client = new WorkbenchClient({
    url: `${scheme}://${location.host}/v1/ws`,
    token,
    // The same device across reloads: the gateway then resends what this device has not acked.
    deviceId: localStorage.getItem(DEVICE_KEY) ?? undefined,
  });
  localStorage.setItem(DEVICE_KEY, client.deviceId);
  $('device').textContent = client.deviceId;

  const counts = { accepted: 0, duplicates: 0, rejected: 0 };
  const showCounts = () => {
    for (const [k, v] of Object.entries(counts)) $(k).textContent = String(v);
    $('unacked').textContent = String(client.unackedCount);
  };
  client.on('welcome', (w) => ($('agent').textContent = w.agentId));
  client.on('state', (s) => {
    $('state').textContent = s;
    $('state').dataset.state = s;
  });
  client.on('status', showStatus);
  client.on('push', showPush);
  client.on('receipt', (r) => {
    counts.accepted += r.accepted.length;
    counts.duplicates += r.duplicates.length;
    counts.rejected += r.rejected.length;
    for (const x of r.rejected) $('error').textContent = `event rejected: ${x.code} ${x.message ?? ''}`;
    showCounts();
  });
  client.on('error', (e) => ($('error').textContent = `${e.source}: ${e.code} ${e.message}`));

  for (const status of WORK_STATUSES) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = status;
    b.dataset.status = status;
    b.setAttribute('aria-pressed', 'false');
    // The status changes when Vigil commits it; the `status` push shows it.
    b.addEventListener('click', () => client.setWorkStatus(status));
    $('work-statuses').append(b);
  }

  let ticket = 0;
  const ticketButtons = (open) => {
    $('ticket-open').disabled = open;
    $('ticket-reply').disabled = !open;
    $('ticket-complete').disabled = !open;
    $('ticket').textContent = open ? `T-${ticket} open` : '';
  };
  $('ticket-open').addEventListener('click', () => {
    ticket += 1;
    client.ticket(EventType.TICKET_OPENED, `T-${ticket}`);
    ticketButtons(true);
  });
  $('ticket-reply').addEventListener('click', () => client.ticket(EventType.TICKET_REPLIED, `T-${ticket}`));
  $('ticket-complete').addEventListener('click', () => {
    client.ticket(EventType.TICKET_COMPLETED, `T-${ticket}`);
    ticketButtons(false);
  });

  client.captureDom(document);
  client.start();
  setInterval(showCounts, 1000);
  addEventListener('pagehide', () => void client.stop());
}

const token = takeToken();
if (token) start(token);
else {
  document.querySelector('main').hidden = true;
  $('signin').hidden = false;
}
