// Drives the original MMTP client (ORIGINALS_DIR/mmtp/CLIENT/client.js) against a server:
// send with tags, CHECK, RECEIVE_FILTERED, RECEIVE, over plain TCP and over TLS, and with
// MMTP_PGP=1 the OpenPGP round (generate keys, REGISTER_KEY, REQUEST_PUBLIC_KEY, a signed
// and encrypted message). Prints one JSON line per operation (`ok` or `error`) and exits 1
// if any failed. Only the client's own API is used; nothing of it is copied.
//
//   node mmtp-client.cjs HOST PORT SECURE_PORT
//   ORIGINALS_DIR   the directory holding the mmtp checkout
//   MMTP_DIFFICULTY the client's HashCash difficulty (default 5, the original's)
//   MMTP_PGP        1 to run the OpenPGP round (keys are written under the working directory)
'use strict';

const path = require('node:path');

const [host, port, securePort] = process.argv.slice(2);
const MMTPClient = require(path.join(process.env.ORIGINALS_DIR, 'mmtp', 'CLIENT', 'client.js'));
const difficulty = Number(process.env.MMTP_DIFFICULTY || 5);
const pgp = process.env.MMTP_PGP === '1';
const run = `o${process.pid}${Date.now() % 100000}`;
const alice = `(alice-${run})%(example.test)`;
const bob = `(bob-${run})%(example.test)`;
let failures = 0;

// The client logs every connect and close on stdout; keep stdout for our JSON lines.
const log = console.log;
console.log = (...args) => console.error(...args);

async function step(name, fn) {
  const started = Date.now();
  try {
    const result = await fn();
    log(JSON.stringify({ step: name, ok: summarize(result), ms: Date.now() - started }));
    return result;
  } catch (error) {
    failures += 1;
    log(JSON.stringify({ step: name, error: String(error && error.message || error), ms: Date.now() - started }));
    return undefined;
  }
}

/** Keeps the report readable: packets reduced to the fields that show what arrived. */
function summarize(result) {
  if (!result || typeof result !== 'object') return result;
  const out = { ...result };
  if (Array.isArray(out.messages)) {
    out.messages = out.messages.map((m) => ({
      messageId: m.meta && m.meta.messageId,
      sender: m.sender,
      recipient: m.recipient,
      tags: m.meta && m.meta.tags,
      encrypted: m.meta && m.meta.encrypted,
      signed: m.meta && m.meta.signed,
      signatureVerified: m.meta && m.meta.signatureVerified,
      content: m.content && (m.content.encrypted ? { encrypted: '[armored]' } : m.content),
    }));
  }
  if (typeof out.publicKey === 'string') out.publicKey = '[armored key]';
  return out;
}

function client(secure) {
  return new MMTPClient({
    serverHost: host,
    serverPort: Number(port),
    securePort: Number(securePort),
    useTLS: secure,
    usePGP: pgp,
    difficulty,
    keyStorePath: path.join(process.cwd(), 'client-keystore'),
  });
}

async function round(label, secure) {
  const c = client(secure);
  const hello = await step(`${label}: connect`, () => c.connect(secure));
  if (!hello) return;
  const tags = { priority: ['high'], category: ['work'], custom: ['interop'] };
  await step(`${label}: SEND alice -> bob, tagged`, () =>
    c.sendMail(alice, bob, `Hello ${label}`, 'From the original client.', { tags }));
  await step(`${label}: SEND alice -> bob, untagged`, () =>
    c.sendMail(alice, bob, `Plain ${label}`, 'No tags.'));
  await step(`${label}: CHECK bob`, () => c.checkMail(bob));
  await step(`${label}: RECEIVE_FILTERED bob priority=high`, () =>
    c.receiveMailByTags(bob, { priority: ['high'] }));
  await step(`${label}: RECEIVE bob`, () => c.receiveMail(bob));
  await step(`${label}: RECEIVE bob again (drained)`, () => c.receiveMail(bob));
  c.disconnect();
}

async function pgpRound() {
  const c = client(false);
  if (!(await step('pgp: connect', () => c.connect(false)))) return;
  await step('pgp: generate keys (alice, bob)', async () => {
    await c.generateKeys(alice, 'Alice');
    await c.generateKeys(bob, 'Bob');
    return { generated: 2 };
  });
  await step('pgp: REGISTER_KEY alice', () => c.registerPublicKey(alice));
  await step('pgp: REGISTER_KEY bob', () => c.registerPublicKey(bob));
  await step('pgp: REQUEST_PUBLIC_KEY bob', () => c.requestPublicKey(bob));
  await step('pgp: SEND signed only', () =>
    c.sendMail(alice, bob, 'Signed', 'Alice wrote this.', { sign: true, encrypt: false }));
  await step('pgp: SEND signed and encrypted', () =>
    c.sendMail(alice, bob, 'Secret', 'Only bob reads this.', { sign: true, encrypt: true }));
  await step('pgp: RECEIVE bob', () => c.receiveMail(bob));
  c.disconnect();
}

(async () => {
  await round('plain', false);
  await round('tls', true);
  if (pgp) await pgpRound();
  process.exit(failures ? 1 : 0);
})();
