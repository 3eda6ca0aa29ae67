// `wharf hash-password`: print a bcrypt hash of a password for `users[].pass`.
// The password comes from standard input (first line) or, on a terminal, from
// a prompt that does not echo it (asked twice).
import { hashPassword } from '../http/auth/passwords.js';

export const HASH_PASSWORD_HELP = `Usage: wharf hash-password [--cost N]

Print a bcrypt hash of a password, for "pass:" of a user in the configuration.
The password is read from standard input (its first line), or prompted for
(twice, not echoed) when standard input is a terminal.

Options:
      --cost N   bcrypt cost factor, 4..31 (default 12; each step doubles the work).
  -h, --help     Show this help.

Example:
  printf '%s' "$PASSWORD" | wharf hash-password
  users:
    - {name: ci, pass: "$2b$12$...", access: write}`;

/** bcrypt looks at the first 72 bytes only. */
const BCRYPT_MAX_BYTES = 72;

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const piece of process.stdin) {
    parts.push(piece as Buffer);
    total += (piece as Buffer).length;
    if (total > 64 * 1024) throw new Error('password input too long');
  }
  const text = Buffer.concat(parts).toString('utf8');
  const nl = text.search(/\r?\n/);
  return nl === -1 ? text : text.slice(0, nl);
}

function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new Error('interrupted'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) return readStdin();
  const first = await prompt('Password: ');
  const again = await prompt('Again: ');
  if (first !== again) throw new Error('the passwords do not match');
  return first;
}

export async function hashPasswordCommand(cost: number): Promise<void> {
  const password = await readPassword();
  if (password.length === 0) throw new Error('empty password');
  if (Buffer.byteLength(password) > BCRYPT_MAX_BYTES) {
    process.stderr.write(`wharf: warning: bcrypt uses only the first ${BCRYPT_MAX_BYTES} bytes of the password\n`);
  }
  process.stdout.write(`${await hashPassword(password, cost)}\n`);
}
