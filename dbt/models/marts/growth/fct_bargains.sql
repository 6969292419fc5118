-- One row per bargain (砍一刀): the shopper who started it, the friends who cut the price, how far it came down
-- and whether it became an order. From the order core's BargainStarted / BargainCut / BargainOrdered.

with

order_book as not materialized (

    select * from {{ ref('stg_order_book__events') }}
    where event_name in ('BargainStarted', 'BargainCut', 'BargainOrdered')

),

started as (

    select
        payload ->> '$.bargain_id' as bargain_id,
        payload ->> '$.deal_id' as deal_id,
        user_id,
        payload ->> '$.sku_id' as sku_id,
        try_cast(payload ->> '$.start_price_fen' as bigint) as start_price_fen,
        try_cast(payload ->> '$.floor_price_fen' as bigint) as floor_price_fen,
        occurred_at as started_at,
        occurred_date as started_date
    from order_book
    where event_name = 'BargainStarted'

),

cuts as (

    select
        payload ->> '$.bargain_id' as bargain_id,
        count(*) as cuts,
        count(distinct payload ->> '$.helper_user_id') as helpers,
        sum(try_cast(payload ->> '$.amount_fen' as bigint)) as cut_fen,
        arg_max(try_cast(payload ->> '$.price_fen' as bigint), occurred_at) as last_cut_price_fen,
        max(occurred_at) as last_cut_at
    from order_book
    where event_name = 'BargainCut'
    group by 1

),

ordered as (

    select
        payload ->> '$.bargain_id' as bargain_id,
        order_id,
        try_cast(payload ->> '$.price_fen' as bigint) as ordered_price_fen,
        occurred_at as ordered_at
    from order_book
    where event_name = 'BargainOrdered'
    qualify row_number() over (partition by payload ->> '$.bargain_id' order by occurred_at) = 1

),

final as (

    select
        started.bargain_id,
        started.deal_id,
        started.user_id,
        started.sku_id,
        started.start_price_fen,
        started.floor_price_fen,
        coalesce(cuts.last_cut_price_fen, started.start_price_fen) as current_price_fen,
        coalesce(cuts.cuts, 0) as cuts,
        coalesce(cuts.helpers, 0) as helpers,
        coalesce(cuts.cut_fen, 0) as cut_fen,
        coalesce(cuts.last_cut_price_fen, started.start_price_fen) = started.floor_price_fen as reached_floor,
        ordered.order_id,
        ordered.ordered_price_fen,
        ordered.order_id is not null as is_ordered,
        started.started_at,
        cuts.last_cut_at,
        ordered.ordered_at,
        started.started_date
    from started
    left join cuts using (bargain_id)
    left join ordered using (bargain_id)

)

select * from final
