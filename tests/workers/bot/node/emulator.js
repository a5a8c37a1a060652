// Start telegram-test-api on 127.0.0.1:<port> (argv[2]); print "emulator ready" once it listens.
const TelegramServer = require('telegram-test-api');
const server = new TelegramServer({ port: Number(process.argv[2]), host: '127.0.0.1', storeTimeout: 600 });
server.start().then(() => console.log('emulator ready'));
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
