-- One row per coupon granted, with its redemption (order and discount) when it was used.

with

order_events as not materialized (

    select * from {{ ref('stg_order_book__events') }}

),

granted as (

    select * from order_events where event_name = 'CouponGranted'

),

redeemed as (

    select
        coupon_id,
        arg_min(order_id, occurred_at) as order_id,
        arg_min(discount_fen, occurred_at) as discount_fen,
        min(occurred_at) as redeemed_at
    from order_events
    where event_name = 'CouponRedeemed'
    group by coupon_id

),

final as (

    select
        granted.coupon_id,
        granted.campaign_id,
        granted.user_id,
        granted.grant_source,
        granted.occurred_at as granted_at,
        redeemed.order_id as redeemed_order_id,
        coalesce(redeemed.discount_fen, 0) as discount_fen,
        redeemed.redeemed_at,
        redeemed.coupon_id is not null as is_redeemed
    from granted
    left join redeemed using (coupon_id)

)

select * from final
