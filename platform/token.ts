// `npm run token -- --tenant T --sub ID --role ROLE [--ttl SECONDS]`: prints a signed token.
import { parseArgs } from 'node:util';
import { ROLES, SELF_ROLES, signToken, type Role } from './auth.ts';
import { loadConfig } from './config.ts';
import { readDevSecret } from './dev-secret.ts';
import { ID_RULE, isId } from './ids.ts';

const { values } = parseArgs({
  options: {
    tenant: { type: 'string' },
    sub: { type: 'string' },
    role: { type: 'string', default: 'agent' },
    ttl: { type: 'string', default: '28800' },
  },
});
const cfg = loadConfig();
if (!values.tenant || !values.sub || !ROLES.includes(values.role as Role)) {
  process.stderr.write(`usage: npm run token -- --tenant T --sub ID --role ${ROLES.join('|')} [--ttl SECONDS]\n`);
  process.exit(2);
}
for (const k of ['tenant', 'sub'] as const) {
  if (!isId(values[k])) {
    process.stderr.write(`--${k} must be ${ID_RULE}\n`);
    process.exit(2);
  }
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) {
  process.stderr.write('--ttl must be a positive number of seconds\n');
  process.exit(2);
}
if (SELF_ROLES.includes(values.role as Role) && ttl > cfg.gateway.agentTokenMaxSec) {
  process.stderr.write(
    `--ttl ${ttl}: ${values.role} tokens live at most ${cfg.gateway.agentTokenMaxSec} s (VIGIL_AGENT_TOKEN_MAX_SEC); the gateway would refuse it\n`,
  );
  process.exit(2);
}
const secret = cfg.jwtSecret ?? readDevSecret(cfg.dataDir);
if (!secret) {
  process.stderr.write(
    'no VIGIL_JWT_SECRET set and no dev secret in the data dir yet: run `npm start` once, or set VIGIL_JWT_SECRET\n',
  );
  process.exit(2);
}
process.stdout.write(
  `${await signToken(secret, { tenant: values.tenant, sub: values.sub, role: values.role as Role }, ttl)}\n`,
);
