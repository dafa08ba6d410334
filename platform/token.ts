// `npm run token -- --tenant T --sub ID --role ROLE [--ttl SECONDS]`: prints a signed token.
import { parseArgs } from 'node:util';
import { ROLES, signToken, type Role } from './auth.ts';
import { loadConfig } from './config.ts';
import { readDevSecret } from './dev-secret.ts';

const { values } = parseArgs({
  options: { tenant: { type: 'string' }, sub: { type: 'string' }, role: { type: 'string', default: 'agent' }, ttl: { type: 'string', default: '28800' } },
});
const cfg = loadConfig();
if (!values.tenant || !values.sub || !ROLES.includes(values.role as Role)) {
  process.stderr.write(`usage: npm run token -- --tenant T --sub ID --role ${ROLES.join('|')} [--ttl SECONDS]\n`);
  process.exit(2);
}
const secret = cfg.jwtSecretGenerated ? readDevSecret(cfg.dataDir) : cfg.jwtSecret;
if (!secret) {
  process.stderr.write('no VIGIL_JWT_SECRET set and no dev secret in the data dir yet: run `npm start` once, or set VIGIL_JWT_SECRET\n');
  process.exit(2);
}
process.stdout.write(`${await signToken(secret, { tenant: values.tenant, sub: values.sub, role: values.role as Role }, Number(values.ttl))}\n`);
