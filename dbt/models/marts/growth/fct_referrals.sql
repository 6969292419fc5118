-- The share tree with what each share brought: shoppers who entered through it, new shoppers it acquired,
-- and the verified orders and GMV of those new shoppers within var('attribution_days') of their first entry,
-- plus the referral coupons granted to the sharer.

with

events as not materialized (

    {{ shopper_events() }}

),

shares as (

    select * from {{ ref('int_shares_linked') }}

),

users as (

    select person_id, first_seen_at, user_id from {{ ref('dim_users') }}

),

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

),

coupons as (

    select * from {{ ref('fct_coupons') }}

),

entries as (

    select
        share_id as share_id,
        person_id,
        min(event_at) as entered_at
    from events
    where event_name in ('Mini Program Launched', 'Mini Program Shown')
        and share_id is not null
    group by all

),

entries_with_novelty as (

    select
        entries.*,
        -- New when the shopper's first event ever is this entry (or came within the same minute of it).
        users.first_seen_at >= entries.entered_at - interval 1 minute as is_new_shopper
    from entries
    inner join users using (person_id)
    inner join shares using (share_id)
    where entries.person_id != shares.sharer_person_id

),

attributed as (

    select
        entries_with_novelty.share_id,
        count(distinct paid_orders.order_id) as attributed_orders,
        coalesce(sum(paid_orders.amount_fen), 0)::bigint as attributed_gmv_fen
    from entries_with_novelty
    inner join paid_orders
        on paid_orders.person_id = entries_with_novelty.person_id
        and paid_orders.paid_at >= entries_with_novelty.entered_at
        and paid_orders.paid_at < entries_with_novelty.entered_at + to_days({{ var('attribution_days') }})
    where entries_with_novelty.is_new_shopper
    group by all

),

visits as (

    select
        share_id,
        count(*) as entered_shoppers,
        count(*) filter (where is_new_shopper) as new_shoppers
    from entries_with_novelty
    group by all

),

rewards as (

    select
        users.person_id as sharer_person_id,
        count(*) as referral_rewards
    from coupons
    inner join users using (user_id)
    where coupons.grant_source in ('referral_sharer', 'referral_second_level')
    group by all

),

final as (

    select
        shares.share_id,
        shares.parent_share_id,
        shares.root_share_id,
        shares.depth,
        shares.sharer_person_id,
        shares.product_id,
        shares.share_event,
        shares.share_via,
        shares.shared_at,
        {{ shop_date('shares.shared_at') }} as shared_date,
        coalesce(visits.entered_shoppers, 0) as entered_shoppers,
        coalesce(visits.new_shoppers, 0) as new_shoppers,
        coalesce(attributed.attributed_orders, 0) as attributed_orders,
        coalesce(attributed.attributed_gmv_fen, 0) as attributed_gmv_fen,
        coalesce(rewards.referral_rewards, 0) as sharer_referral_rewards
    from shares
    left join visits using (share_id)
    left join attributed using (share_id)
    left join rewards using (sharer_person_id)

)

select * from final
