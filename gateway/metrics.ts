// The gateway's Prometheus metrics (README "The gateway"): one registry per gateway instance, with
// Node's default metrics; the HTTP side adds its request counter to the same registry.
import client from 'prom-client';

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

/** `signalsPerEvent` feeds the coalescing-ratio gauge when scraped. */
export function createGatewayMetrics(signalsPerEvent: () => number) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new client.Gauge({
    name: 'vigil_coalescing_ratio',
    help: 'Signals sent per event accepted (lower is better)',
    registers,
    collect() {
      this.set(signalsPerEvent());
    },
  });
  return {
    registry,
    connections: new client.Gauge({
      name: 'vigil_ws_connections',
      help: 'Open websocket connections (welcomed)',
      registers,
    }),
    events: new client.Counter({
      name: 'vigil_events_total',
      help: 'Events received, by type and outcome',
      labelNames: ['type', 'outcome'],
      registers,
    }),
    receipts: new client.Counter({
      name: 'vigil_receipts_total',
      help: 'Receipts sent',
      labelNames: ['via'],
      registers,
    }),
    signals: new client.Counter({
      name: 'vigil_signals_total',
      help: 'Signals sent to agent workflows',
      labelNames: ['source'],
      registers,
    }),
    rejects: new client.Counter({
      name: 'vigil_rejects_total',
      help: 'Rejected frames, events and connections, by code',
      labelNames: ['code'],
      registers,
    }),
    unknownFields: new client.Counter({
      name: 'vigil_unknown_fields_total',
      help: 'Fields the gateway does not know, dropped from client frames and events (a newer client), by frame type (event: inside an event)',
      labelNames: ['frame'],
      registers,
    }),
    cadence: new client.Counter({
      name: 'vigil_cadence_frames_total',
      help: 'cadence frames sent: a connection advised a new heartbeat interval',
      registers,
    }),
    pushes: new client.Counter({ name: 'vigil_pushes_total', help: 'Push frames sent to devices', registers }),
    pushDeliveries: new client.Counter({
      name: 'vigil_push_deliveries_total',
      help: 'Pushes per connection by outcome: sent, acked, redelivered (timeout or reconnect), expired',
      labelNames: ['outcome'],
      registers,
    }),
    receiptLatency: new client.Histogram({
      name: 'vigil_receipt_seconds',
      help: 'Frame arrival to receipt',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    signalLatency: new client.Histogram({
      name: 'vigil_signal_seconds',
      help: 'signalWithStart duration',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    /** Input health per scope (README "Input health and degrade"), set from the stored verdicts. */
    input: inputHealthGauges(registers),
    // Client clocks never move a deadline (the gateway's receipt time does); their skew is only watched.
    clockSkew: new client.Histogram({
      name: 'vigil_client_clock_skew_seconds',
      help: "Absolute difference between an event's client ts and the gateway's receipt time",
      buckets: [0.1, 0.5, 1, 5, 30, 60, 300, 900, 3600],
      registers,
    }),
  };
}

function inputHealthGauges(registers: client.Registry[]) {
  const scope = ['tenant', 'business_line'];
  const gauge = (name: string, help: string, labelNames = scope) =>
    new client.Gauge({ name, help, labelNames, registers });
  return {
    degraded: gauge(
      'vigil_input_degraded',
      "1 while a scope's automatic ABNORMAL/OFFLINE is held (alert on it); reason RATE_DROP, STORE_ERRORS or FORCED_ON/OFF",
      [...scope, 'reason'],
    ),
    held: gauge('vigil_input_held_windows', 'ABNORMAL/OFFLINE windows HCM holds now for the scope'),
    actions: gauge('vigil_input_actions', 'Actions accepted in the sample window'),
    baseline: gauge('vigil_input_baseline_actions', "Actions per sample window the scope's baseline expects"),
    connected: gauge('vigil_input_connected_agents', 'Agents with a device connected'),
    heardRatio: gauge('vigil_input_heard_ratio', 'Share of connected agents heard from in the sample window'),
    actedRatio: gauge('vigil_input_acted_ratio', 'Share of connected agents whose last action is in the sample window'),
    lag: gauge('vigil_input_lag_seconds', "Mean client-to-gateway lag (receipt time minus the client's ts)"),
    rejects: gauge('vigil_input_rejects', 'Events refused in the sample window'),
    events: gauge('vigil_input_events', 'Events accepted in the sample window, by region and channel', [
      ...scope,
      'region',
      'channel',
    ]),
  };
}
