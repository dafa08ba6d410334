// Routes of PROTOCOL.md's HTTP API for propagation (filled in by the propagation work).
import type { FastifyInstance } from 'fastify';
import type { GatewayDeps } from './http.ts';

export function registerPropagationRoutes(_app: FastifyInstance, _d: GatewayDeps): void {}
