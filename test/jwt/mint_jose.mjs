// Mints JWTs with npm's jose, an implementation independent of oauth_rls's.
// stdin: {"jobs": [{"jwk": <private JWK>, "alg": "...", "header": {...}, "claims": {...}}]}
// stdout: one token per job, one per line.
import { SignJWT, importJWK } from 'jose';

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));
for (const job of input.jobs) {
  const key = job.alg === 'HS256'
    ? Buffer.from(job.secret, 'utf8')
    : await importJWK(job.jwk, job.alg);
  const token = await new SignJWT(job.claims)
    .setProtectedHeader({ ...job.header, alg: job.alg })
    .sign(key);
  process.stdout.write(token + '\n');
}
