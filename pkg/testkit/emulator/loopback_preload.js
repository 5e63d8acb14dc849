// Preloaded with `node -r` before kinesis-mock.
//
// kinesis-mock binds 0.0.0.0 and has no option to change that: every TCP server it
// starts listens on 127.0.0.1 instead.
//
// On SIGTERM kinesis-mock (a cats-effect IOApp, which also replaces process.exit) shuts
// down gracefully, waiting for clients' keep-alive connections to close: seconds while an
// SDK client is alive. It keeps nothing worth saving here, so exit at once through the
// original process.exit.
'use strict';
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    if (first.path === undefined) {
      args[0] = Object.assign({}, first, { host: '127.0.0.1' });
    }
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback])
    if (typeof args[1] === 'string') {
      args[1] = '127.0.0.1';
    } else {
      args.splice(1, 0, '127.0.0.1');
    }
  }
  return listen.apply(this, args);
};
const exit = process.exit.bind(process);
process.prependListener('SIGTERM', () => exit(143));
