'use strict';

var test = require('node:test');
var assert = require('node:assert/strict');
var harness = require('../testing/harness.js');

var UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('a few messages wait for the flush interval, then go out in one batch', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start({ flushIntervalMs: 5000 });
  analytics.track('Product Viewed', { product_id: 'sku-oolong-250g', price: 88.0 });
  analytics.track('Product Added', { product_id: 'sku-oolong-250g', quantity: 2 });
  analytics.track('Cart Viewed', {});

  await phone.wait(4900);
  assert.equal(phone.collector.attempts.length, 0);

  await phone.wait(200);
  assert.equal(phone.collector.attempts.length, 1);
  assert.deepEqual(phone.collector.deliveredEvents(), ['Product Viewed', 'Product Added', 'Cart Viewed']);
  assert.equal(analytics.stats().queued, 0);
});

test('the twentieth message sends the batch at once without waiting for the interval', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start({ flushAt: 20, flushIntervalMs: 60000 });
  for (var i = 0; i < 19; i += 1) {
    analytics.track('Product List Viewed', { list_id: 'tea', position: i });
  }
  await phone.wait(0);
  assert.equal(phone.collector.attempts.length, 0);

  analytics.track('Product List Viewed', { list_id: 'tea', position: 19 });
  await phone.wait(0);
  assert.equal(phone.collector.attempts.length, 1);
  assert.equal(phone.collector.attempts[0].request.body.batch.length, 20);
});

test('the batch is a Segment /v1/batch POST with sentAt, writeKey and a uuid4 messageId per message', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start();
  analytics.track('Checkout Started', { order_id: 'SO-2024-0001', total: 176.0, currency: 'CNY' });
  analytics.identify('member-8848', { plan: 'vip' });
  analytics.page('pages/cart/index', { query: {} });
  await analytics.flush();

  var request = phone.collector.attempts[0].request;
  assert.equal(request.url, 'https://collect.shop.example/v1/batch');
  assert.equal(request.method, 'POST');
  assert.equal(request.header['Content-Type'], 'application/json');
  assert.equal(request.body.writeKey, 'sl_test_key');
  assert.equal(request.body.sentAt, new Date(phone.clock.now()).toISOString());
  var batch = request.body.batch;
  assert.deepEqual(
    batch.map(function (message) {
      return message.type;
    }),
    ['track', 'identify', 'page']
  );
  batch.forEach(function (message) {
    assert.match(message.messageId, UUID_V4);
    assert.equal(message.anonymousId, analytics.getAnonymousId());
  });
  assert.equal(new Set(batch.map((message) => message.messageId)).size, 3);
  assert.equal(batch[1].userId, 'member-8848');
  assert.deepEqual(batch[1].traits, { plan: 'vip' });
  assert.equal(batch[2].userId, 'member-8848');
});

test('one request carries at most maxBatchSize messages and the rest follow straight after', async function () {
  var phone = harness.createPhone();
  var analytics = phone.start({ flushAt: 1000, maxBatchSize: 100, maxQueueSize: 1000 });
  for (var i = 0; i < 230; i += 1) {
    analytics.track('Promotion Viewed', { promotion_id: 'double-11', position: i });
  }
  var result = await analytics.flush();

  assert.deepEqual(result, { isEmpty: true, queued: 0 });
  assert.deepEqual(
    phone.collector.attempts.map(function (attempt) {
      return attempt.request.body.batch.length;
    }),
    [100, 100, 30]
  );
  assert.deepEqual(
    phone.collector.delivered.map(function (message) {
      return message.properties.position;
    }),
    Array.from({ length: 230 }, function (_, index) {
      return index;
    })
  );
});
