#!/usr/bin/env node
'use strict';
// Relaunching with large pages (src/cli/relaunch.ts) is decided here, before the CLI bundle loads,
// so a relaunched command pays one Node start-up and not also the parsing of the bundle.
const { relaunch, relaunchEnv } = require('../dist/launch.js');
const env = relaunchEnv(process.env);
if (env) relaunch(env);
else require('../dist/cli.js').runCli();
