#!/usr/bin/env node
// `docker-credential-clavis ACTION`: docker runs `docker-credential-<name>` for a `credHelpers` or
// `credsStore` entry `clavis`; this is `clavis auth docker-credential ACTION`.
process.argv.splice(2, 0, 'auth', 'docker-credential');
await import('./clavis.js');
