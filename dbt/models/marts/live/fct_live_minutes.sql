-- The streams' live numbers per minute: the sum of every delta emitted for that minute (late events add
-- corrections to a minute already shown, so summing is the whole truth).

with

deltas as (

    select * from {{ ref('stg_lake__live_minutes') }}

),

final as (

    select
        minute_at,
        {{ shop_date('minute_at') }} as minute_date,
        sum(events)::bigint as events,
        sum(new_shoppers)::bigint as new_shoppers,
        sum(product_views)::bigint as product_views,
        sum(cart_adds)::bigint as cart_adds,
        sum(checkouts)::bigint as checkouts,
        sum(orders)::bigint as orders,
        sum(gmv_fen)::bigint as gmv_fen,
        {{ fen_to_yuan('sum(gmv_fen)') }} as gmv_yuan
    from deltas
    group by minute_at

)

select * from final
