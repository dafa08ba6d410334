// Routes of PROTOCOL.md's HTTP API for admin (filled in by the admin work).
import type { FastifyInstance } from 'fastify';
import type { GatewayDeps } from './http.ts';

export function registerAdminRoutes(_app: FastifyInstance, _d: GatewayDeps): void {}
