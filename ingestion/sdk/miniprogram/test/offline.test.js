'use strict';

var test = require('node:test');
var assert = require('node:assert/strict');
var harness = require('../testing/harness.js');

// The acceptance test from issue 3: collector down, events queue up; collector up: every event arrives once.
test('with the collector down events queue up, and once it is up every event arrives exactly once', async function () {
  var phone = harness.createPhone({ seed: 2024 });
  phone.collector.isUp = false;
  var sdkOptions = { flushAt: 20, flushIntervalMs: 5000, retryBaseMs: 1000, retryMaxMs: 30000 };
  var analytics = phone.launch({ scene: 1007, path: 'pages/index/index', query: {} }, sdkOptions);
  var tracked = 0;
  for (var i = 0; i < 45; i += 1) {
    analytics.track('Product Viewed', { product_id: 'sku-' + i, seq: tracked });
    tracked += 1;
    await phone.wait(700);
  }
  phone.env.hide();
  await phone.wait(60000);
  var attemptsWhileDown = phone.env.requests.length;
  assert.equal(phone.collector.delivered.length, 0);

  // Reopened later, still offline; then the collector comes back but answers 503 for a while (Kafka down).
  phone.launch({ scene: 1089, path: 'pages/index/index', query: {} }, sdkOptions);
  for (var j = 0; j < 30; j += 1) {
    phone.analytics.track('Product Added', { product_id: 'sku-' + j, seq: tracked });
    tracked += 1;
  }
  await phone.wait(20000);
  phone.collector.isUp = true;
  phone.collector.answers = [503, 503];
  await phone.wait(120000);

  var events = phone.collector.deliveredEvents();
  var ids = phone.collector.deliveredIds();
  var seqs = phone.collector.delivered
    .filter(function (message) {
      return message.properties && typeof message.properties.seq === 'number';
    })
    .map(function (message) {
      return message.properties.seq;
    })
    .sort(function (a, b) {
      return a - b;
    });
  assert.ok(attemptsWhileDown > 0, 'the SDK did keep trying while the collector was down');
  assert.equal(new Set(ids).size, ids.length, 'no messageId arrived twice');
  assert.deepEqual(
    seqs,
    Array.from({ length: tracked }, function (_, index) {
      return index;
    })
  );
  var count = function (name) {
    return events.filter(function (event) {
      return event === name;
    }).length;
  };
  assert.equal(count('Mini Program Launched'), 2);
  assert.equal(count('Mini Program Shown'), 2);
  assert.equal(count('Mini Program Hidden'), 1);
  assert.equal(ids.length, tracked + 5);
  assert.equal(phone.analytics.stats().queued, 0);
  assert.deepEqual(phone.storage.get('shoploop_queue'), []);
});
