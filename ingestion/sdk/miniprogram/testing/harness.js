'use strict';

// Wires the SDK to a fake wx, a fake clock, a fake collector and a seeded random source.
var index = require('../index.js');
var fakeClock = require('./fake_clock.js');
var fakeCollector = require('./fake_collector.js');
var fakeWx = require('./fake_wx.js');

// mulberry32: a tiny seeded PRNG, so ids and jitter differ between calls yet every run is the same.
function seededRandom(seed) {
  var state = seed >>> 0;
  return function () {
    state = (state + 0x6d2b79f5) >>> 0;
    var t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function captureLogger() {
  var lines = [];
  var record = function (level) {
    return function () {
      lines.push({ level: level, text: Array.prototype.slice.call(arguments).map(String).join(' ') });
    };
  };
  return { lines: lines, warn: record('warn'), error: record('error'), info: record('info'), log: record('log') };
}

// A fresh "phone": its storage outlives SDK instances, as wx storage outlives the mini-program process.
function createPhone(options) {
  options = options || {};
  var phone = {
    storage: new Map(),
    clock: new fakeClock.FakeClock(),
    collector: fakeCollector.createFakeCollector(),
    random: seededRandom(options.seed || 7),
    logger: captureLogger(),
    env: null,
    analytics: null,
  };
  function createSdk(defaults, sdkOptions) {
    phone.analytics = index.createAnalytics(
      Object.assign(
        {
          serverUrl: 'https://collect.shop.example',
          writeKey: phone.collector.writeKey,
          wx: phone.env.wx,
          now: phone.clock.now,
          setTimeout: phone.clock.setTimeout,
          clearTimeout: phone.clock.clearTimeout,
          random: phone.random,
          logger: phone.logger,
        },
        defaults,
        sdkOptions || {}
      )
    );
    return phone.analytics;
  }
  function newRuntime(launchOptions) {
    if (phone.analytics) phone.analytics.close();
    phone.env = fakeWx.createFakeWx({
      storage: phone.storage,
      transport: phone.collector.transport,
      launchOptions: launchOptions,
    });
  }
  // Start (or restart) the mini-program with lifecycle tracking off: new wx runtime, same storage.
  phone.start = function (sdkOptions, launchOptions) {
    newRuntime(launchOptions);
    return createSdk({ autoTrackApp: false }, sdkOptions);
  };
  // Start the way a shop's app.js does: SDK created while app.js runs, then the WeChat launch sequence.
  phone.launch = function (launchOptions, sdkOptions) {
    newRuntime(launchOptions);
    phone.env.launch(launchOptions, function () {
      createSdk({}, sdkOptions);
      phone.env.App({ onLaunch: function () {}, globalData: {} });
    });
    return phone.analytics;
  };
  // Let time pass, letting asynchronous request callbacks run between timers.
  phone.wait = async function (ms, step) {
    step = step || 100;
    await fakeWx.settle();
    for (var waited = 0; waited < ms; waited += step) {
      phone.clock.advance(Math.min(step, ms - waited));
      await fakeWx.settle();
    }
  };
  return phone;
}

module.exports = { createPhone: createPhone, seededRandom: seededRandom, captureLogger: captureLogger };
