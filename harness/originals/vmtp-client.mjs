// Drives the original VMTP client library (ORIGINALS_DIR/vmtp/client/index.js) against a
// gateway URL, as its README and CLI use it: a single send to the bare URL, one with metadata
// and an attachment, and a batch through VMTPClient.sendBatch. Prints one JSON line per call
// (`ok` with the gateway's answer, or `error`) and exits 1 if any failed.
//
//   node vmtp-client.mjs URL SENDER RECIPIENT [RECIPIENT2]
//   ORIGINALS_DIR  the directory holding the vmtp checkout (npm install done in it)
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [url, sender, rcpt, rcpt2 = rcpt] = process.argv.slice(2);
const lib = await import(pathToFileURL(path.join(process.env.ORIGINALS_DIR, 'vmtp', 'client', 'index.js')).href);
let failures = 0;

async function step(name, fn) {
  try {
    const text = await fn();
    let answer;
    try { answer = JSON.parse(text); } catch { answer = text; }
    console.log(JSON.stringify({ step: name, ok: answer }));
  } catch (error) {
    failures += 1;
    console.log(JSON.stringify({ step: name, error: String(error && error.message || error) }));
  }
}

await step('sendMessage to the bare URL', () =>
  lib.sendMessage(url, sender, [rcpt], 'Hello from the client library', 'Hello from VMTP via Worker'));
await step('sendMessage with metadata and an attachment', () =>
  lib.sendMessage(url, sender, [rcpt, rcpt2], 'With extras', 'See the attachment.',
    { campaign: 'fall', 'client-id': '42' },
    [{ filename: 'notes.txt', contentType: 'text/plain', content: Buffer.from('some notes\n') }]));
const client = new lib.VMTPClient(url, sender);
await step('VMTPClient.send', () =>
  client.send([rcpt2], 'Via VMTPClient', 'Sent with VMTPClient.send.', { metadata: { k: 'v' } }));
await step('VMTPClient.sendBatch (two messages)', () =>
  client.sendBatch([
    { sender, recipients: [rcpt], subject: 'Batch one', body: 'first' },
    { sender, recipients: [rcpt2], subject: 'Batch two', body: 'second' },
  ]));
process.exit(failures ? 1 : 0);
