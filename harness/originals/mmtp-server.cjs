// Starts the original MMTP server (ORIGINALS_DIR/mmtp/SERVER/server.js) on 127.0.0.1.
//
// The original binds every interface on fixed ports (8025, 8026) with no option for the host,
// so this wrapper pins every listen() to 127.0.0.1 before loading it, and constructs the
// server with the options its constructor takes. Nothing of the original is copied: it is
// loaded from the checkout the user provides.
//
//   ORIGINALS_DIR   the directory holding the mmtp checkout (npm install done in it)
//   MMTP_PORT       plain listener (default 8025)
//   MMTPS_PORT      TLS listener (default 8026)
//   MMTP_PGP        1 to enable OpenPGP (as the original's test.js does), 0 for its default
//   MMTP_DIFFICULTY HashCash difficulty (default 5, the original's)
//
// Run it with the working directory where the server may write certs/ and keystore/.
'use strict';

const net = require('node:net');
const path = require('node:path');

const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  // listen(port[, host][, backlog][, cb]) or listen(options[, cb]): force the host.
  if (args.length > 0 && typeof args[0] === 'object' && args[0] !== null) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  } else if (typeof args[0] === 'number' || typeof args[0] === 'string') {
    const cb = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    args = [{ port: Number(args[0]), host: '127.0.0.1' }];
    if (cb) args.push(cb);
  }
  return originalListen.apply(this, args);
};

const dir = process.env.ORIGINALS_DIR;
if (!dir) {
  console.error('ORIGINALS_DIR is not set');
  process.exit(2);
}
const MMTPServer = require(path.join(dir, 'mmtp', 'SERVER', 'server.js'));
const server = new MMTPServer({
  port: Number(process.env.MMTP_PORT || 8025),
  securePort: Number(process.env.MMTPS_PORT || 8026),
  usePGP: process.env.MMTP_PGP === '1',
  difficulty: Number(process.env.MMTP_DIFFICULTY || 5),
  certPath: path.join(process.cwd(), 'certs', 'server.cert'),
  keyPath: path.join(process.cwd(), 'certs', 'server.key'),
  keyStorePath: path.join(process.cwd(), 'keystore'),
});
server.start();
process.on('SIGTERM', () => {
  server.stop();
  process.exit(0);
});
