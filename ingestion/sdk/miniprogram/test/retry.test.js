'use strict';

var test = require('node:test');
var assert = require('node:assert/strict');
var harness = require('../testing/harness.js');
var backoff = require('../lib/backoff.js');
var outcome = require('../lib/outcome.js');

test('only HTTP 200 is success; 429, 5xx and other codes retry; other 4xx are final', function () {
  assert.equal(outcome.outcomeOf(200), 'sent');
  [201, 202, 204, 301, 429, 500, 502, 503].forEach(function (code) {
    assert.equal(outcome.outcomeOf(code), 'retry', String(code));
  });
  [400, 401, 403, 404, 413].forEach(function (code) {
    assert.equal(outcome.outcomeOf(code), 'rejected', String(code));
  });
});

test('retry delays double from the base, stay within their jitter band and stop growing at the cap', function () {
  var policy = { baseMs: 1000, maxMs: 30000 };
  var random = harness.seededRandom(11);
  var delays = [];
  for (var attempt = 1; attempt <= 8; attempt += 1) {
    var ceiling = Math.min(30000, 1000 * Math.pow(2, attempt - 1));
    var delay = backoff.retryDelayMs(attempt, policy, random);
    assert.ok(delay >= ceiling / 2 && delay <= ceiling, 'attempt ' + attempt + ': ' + delay);
    delays.push(delay);
  }
  assert.ok(delays[7] <= 30000);
  // Jitter: two devices (two random sources) do not pick the same delays.
  var other = harness.seededRandom(12);
  assert.notDeepEqual(
    delays,
    [1, 2, 3, 4, 5, 6, 7, 8].map(function (attempt) {
      return backoff.retryDelayMs(attempt, policy, other);
    })
  );
});

test('a 503 keeps the batch and retries on the backoff schedule until the collector answers 200', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start({ retryBaseMs: 1000, retryMaxMs: 8000 });
  phone.collector.answers = [503, 503, 503, 503, 503, 500];
  analytics.track('Order Completed', { order_id: 'SO-2024-0002', total: 176.0, currency: 'CNY' });
  await analytics.flush();

  var scheduled = [];
  for (var attempt = 1; attempt <= 6; attempt += 1) {
    assert.equal(phone.collector.attempts.length, attempt);
    var delay = phone.clock.pendingDelays()[0];
    scheduled.push(delay);
    var ceiling = Math.min(8000, 1000 * Math.pow(2, attempt - 1));
    assert.ok(delay >= ceiling / 2 && delay <= ceiling, 'retry ' + attempt + ' after ' + delay + ' ms');
    await phone.wait(delay - 1, delay - 1);
    assert.equal(phone.collector.attempts.length, attempt, 'no retry before the delay is over');
    await phone.wait(1, 1);
  }
  assert.equal(phone.collector.attempts.length, 7);
  assert.equal(phone.collector.attempts[6].statusCode, 200);
  assert.deepEqual(phone.collector.deliveredEvents(), ['Order Completed']);
  assert.equal(analytics.stats().retries, 6);
  var ids = phone.collector.attempts.map(function (attempt) {
    return attempt.request.body.batch[0].messageId;
  });
  assert.equal(new Set(ids).size, 1, 'every retry resends the same messageId');
  var sentAts = phone.collector.attempts.map(function (attempt) {
    return attempt.request.body.sentAt;
  });
  assert.equal(new Set(sentAts).size, 7, 'every attempt carries its own sentAt');
});

test('a 429 waits at least as long as Retry-After asks', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start({ retryBaseMs: 1000, retryMaxMs: 60000 });
  phone.collector.answers = [{ statusCode: 429, header: { 'Retry-After': '20' } }];
  analytics.track('Product Clicked', { product_id: 'sku-jasmine' });
  await analytics.flush();

  assert.deepEqual(phone.clock.pendingDelays(), [20000]);
  await phone.wait(19900);
  assert.equal(phone.collector.attempts.length, 1);
  await phone.wait(200);
  assert.deepEqual(phone.collector.deliveredEvents(), ['Product Clicked']);
});

test('a 400 drops only that batch, logs it, counts it, and the queue moves on', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start({ maxBatchSize: 2, flushAt: 1000 });
  phone.collector.answers = [400];
  analytics.track('Coupon Applied', { coupon_id: 'NEW10' });
  analytics.track('Coupon Applied', { coupon_id: 'NEW20' });
  analytics.track('Checkout Started', { order_id: 'SO-3' });
  await analytics.flush();

  assert.deepEqual(
    phone.collector.attempts.map(function (attempt) {
      return attempt.statusCode;
    }),
    [400, 200, 200]
  );
  assert.deepEqual(phone.collector.deliveredEvents(), ['Checkout Started', 'Tracking Events Dropped']);
  var report = phone.collector.delivered[1];
  assert.deepEqual(report.properties, { dropped_count: 2, reason: 'rejected_400' });
  assert.deepEqual(analytics.stats().dropped, { rejected_400: 2 });
  assert.ok(
    phone.logger.lines.some(function (line) {
      return line.level === 'error' && line.text.indexOf('HTTP 400') !== -1;
    })
  );
  assert.equal(analytics.stats().queued, 0);
});

test('without network the batch waits for the backoff, and coming back online sends it at once', async function () {
  var phone = harness.createPhone();
  phone.collector.isUp = false;
  var analytics = phone.start({ retryBaseMs: 60000, retryMaxMs: 60000 });
  analytics.track('Product Viewed', { product_id: 'sku-longjing' });
  var result = await analytics.flush();
  assert.deepEqual(result, { isEmpty: false, queued: 1 });
  assert.equal(phone.clock.pendingDelays().length, 1);

  phone.collector.isUp = true;
  phone.env.setNetwork('4g');
  await phone.wait(0);

  assert.deepEqual(phone.collector.deliveredEvents(), ['Product Viewed']);
  assert.deepEqual(phone.clock.pendingDelays(), []);
});

test('a success after failures starts the next backoff from the base again', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start({ retryBaseMs: 1000, retryMaxMs: 60000 });
  phone.collector.answers = [500, 500, 500, 200, 500];
  analytics.track('Cart Viewed', {});
  await analytics.flush();
  await phone.wait(10000);
  assert.equal(phone.collector.delivered.length, 1);

  analytics.track('Cart Viewed', {});
  await analytics.flush();
  var delay = phone.clock.pendingDelays()[0];
  assert.ok(delay >= 500 && delay <= 1000, 'first retry again after ' + delay + ' ms');
});
