'use strict';

var test = require('node:test');
var assert = require('node:assert/strict');
var harness = require('../testing/harness.js');
var share = require('../lib/share.js');

test('share parameters are appended to a path, replacing ones it was opened with', function () {
  assert.equal(share.appendShareToPath('/pages/goods/detail', 'abc', 1), '/pages/goods/detail?sl_share_id=abc&sl_share_depth=1');
  assert.equal(
    share.appendShareToPath('/pages/goods/detail?id=7', 'abc', 2),
    '/pages/goods/detail?id=7&sl_share_id=abc&sl_share_depth=2'
  );
  assert.equal(
    share.appendShareToPath('pages/goods/detail?sl_share_id=old&id=7&sl_share_depth=1', 'new', 2),
    'pages/goods/detail?id=7&sl_share_id=new&sl_share_depth=2'
  );
  assert.equal(share.appendShareToQuery('', 'abc', 1), 'sl_share_id=abc&sl_share_depth=1');
});

test('the share a shopper entered through is read from the query, with depth 1 when it is missing or bad', function () {
  assert.equal(share.shareEntryOf({}), null);
  assert.equal(share.shareEntryOf(undefined), null);
  assert.deepEqual(share.shareEntryOf({ sl_share_id: 'abc', sl_share_depth: '3' }), { shareId: 'abc', depth: 3 });
  assert.deepEqual(share.shareEntryOf({ sl_share_id: 'abc', sl_share_depth: 'x' }), { shareId: 'abc', depth: 1 });
});

function definePages(phone, analytics) {
  phone.env.definePage('pages/goods/detail', function () {
    phone.env.Page(
      analytics.wrapPage({
        onShareAppMessage: function () {
          return { title: '明前龙井 250g', path: '/pages/goods/detail?id=' + this.options.id };
        },
        onShareTimeline: function () {
          return { title: '明前龙井', query: 'id=' + this.options.id };
        },
      })
    );
  });
  phone.env.definePage('pages/index/index', function () {
    phone.env.Page(
      analytics.wrapPage({
        onShareAppMessage: function () {
          return { title: 'ShopLoop 茶叶店' };
        },
      })
    );
  });
}

function sharedEvents(collector) {
  return collector.delivered.filter(function (message) {
    return message.event === 'Mini Program Shared';
  });
}

// One shopper's session: launch with the given options, open a product, share it to a chat.
async function shareFromPhone(launchOptions, seed) {
  var phone = harness.createPhone({ seed: seed });
  var analytics = phone.launch(launchOptions);
  definePages(phone, analytics);
  phone.env.openPage('pages/goods/detail', { id: 'sku-7' });
  var card = phone.env.shareToChat('menu');
  await analytics.flush();
  return { phone: phone, card: card, shared: sharedEvents(phone.collector)[0] };
}

function queryOf(path) {
  var query = {};
  path
    .split('?')[1]
    .split('&')
    .forEach(function (pair) {
      var parts = pair.split('=');
      query[decodeURIComponent(parts[0])] = decodeURIComponent(parts[1]);
    });
  return query;
}

test('a share chain: each shopper who opens a shared card and shares it again adds one to the depth', async function () {
  var first = await shareFromPhone({ scene: 1001, path: 'pages/index/index', query: {} }, 1);
  assert.equal(first.card.title, '明前龙井 250g');
  assert.match(first.card.path, /^\/pages\/goods\/detail\?id=sku-7&sl_share_id=[0-9a-f]{16}&sl_share_depth=1$/);
  assert.deepEqual(Object.keys(first.shared.properties).sort(), [
    'method',
    'parent_share_id',
    'path',
    'share_depth',
    'share_id',
  ]);
  assert.equal(first.shared.properties.share_depth, 1);
  assert.equal(first.shared.properties.parent_share_id, null);
  assert.equal(first.shared.properties.path, first.card.path);

  // A friend opens the card from a group chat (scene 1008) and shares it on.
  var second = await shareFromPhone(
    { scene: 1008, path: 'pages/goods/detail', query: queryOf(first.card.path) },
    2
  );
  var launched = second.phone.collector.delivered[0];
  assert.equal(launched.event, 'Mini Program Launched');
  assert.equal(launched.properties.share_id, first.shared.properties.share_id);
  assert.equal(launched.properties.share_depth, 1);
  assert.equal(second.shared.properties.share_depth, 2);
  assert.equal(second.shared.properties.parent_share_id, first.shared.properties.share_id);
  assert.equal(queryOf(second.card.path).sl_share_depth, '2');
  assert.equal(queryOf(second.card.path).sl_share_id, second.shared.properties.share_id);
  assert.notEqual(second.shared.properties.share_id, first.shared.properties.share_id);

  var third = await shareFromPhone({ scene: 1007, path: 'pages/goods/detail', query: queryOf(second.card.path) }, 3);
  assert.equal(third.shared.properties.share_depth, 3);
  assert.equal(third.shared.properties.parent_share_id, second.shared.properties.share_id);
});

test('a page sharing without a path shares itself, with its own query and the share parameters', async function () {
  var phone = harness.createPhone();
  var analytics = phone.launch({ scene: 1001, path: 'pages/index/index', query: {} });
  definePages(phone, analytics);
  phone.env.openPage('pages/index/index', { tab: 'new' });
  var card = phone.env.shareToChat('button');
  await analytics.flush();

  assert.equal(card.title, 'ShopLoop 茶叶店');
  assert.match(card.path, /^\/pages\/index\/index\?tab=new&sl_share_id=[0-9a-f]{16}&sl_share_depth=1$/);
  assert.equal(sharedEvents(phone.collector)[0].properties.method, 'button');
});

test('sharing to Moments adds the share parameters to the query', async function () {
  var phone = harness.createPhone();
  var analytics = phone.launch({ scene: 1001, path: 'pages/index/index', query: {} });
  definePages(phone, analytics);
  phone.env.openPage('pages/goods/detail', { id: 'sku-7' });
  var card = phone.env.shareToTimeline();
  await analytics.flush();

  assert.match(card.query, /^id=sku-7&sl_share_id=[0-9a-f]{16}&sl_share_depth=1$/);
  var shared = sharedEvents(phone.collector)[0];
  assert.equal(shared.properties.method, 'timeline');
  assert.equal(shared.properties.path, 'pages/goods/detail?' + card.query);
});

test('share content answered later through a promise gets the share parameters too', async function () {
  var phone = harness.createPhone();
  var analytics = phone.launch({ scene: 1001, path: 'pages/index/index', query: {} });
  phone.env.definePage('pages/group-buy/index', function () {
    phone.env.Page(
      analytics.wrapPage({
        onShareAppMessage: function () {
          return {
            title: '拼团中',
            path: '/pages/group-buy/index?group_id=g-1',
            promise: Promise.resolve({ title: '还差 1 人成团', path: '/pages/group-buy/index?group_id=g-1' }),
          };
        },
      })
    );
  });
  phone.env.openPage('pages/group-buy/index', { group_id: 'g-1' });
  var card = phone.env.shareToChat('menu');
  var later = await card.promise;

  assert.equal(later.title, '还差 1 人成团');
  assert.equal(queryOf(later.path).sl_share_id, queryOf(card.path).sl_share_id);
  assert.equal(queryOf(later.path).group_id, 'g-1');
});

test('a page without a share handler stays unshareable', function () {
  var phone = harness.createPhone();
  var analytics = phone.start();
  var wrapped = analytics.wrapPage({ data: {} });
  assert.equal(wrapped.onShareAppMessage, undefined);
  assert.equal(wrapped.onShareTimeline, undefined);
});
