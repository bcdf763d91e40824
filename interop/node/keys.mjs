// Makes a client's ES256 key pair: `node keys.mjs NAME DIR` writes DIR/NAME.jwk (the private key,
// for the relying party) and DIR/NAME.jwks (the public key set, for `iamsmart clients create`).
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [name, dir] = process.argv.slice(2);
if (!name || !dir) {
  console.error('usage: node keys.mjs NAME DIR');
  process.exit(2);
}
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const meta = { kid: `${name}-1`, alg: 'ES256', use: 'sig' };
const priv = { ...privateKey.export({ format: 'jwk' }), ...meta };
const pub = { ...publicKey.export({ format: 'jwk' }), ...meta };
writeFileSync(join(dir, `${name}.jwk`), JSON.stringify(priv), { mode: 0o600 });
writeFileSync(join(dir, `${name}.jwks`), JSON.stringify({ keys: [pub] }));
