-- The streams' per-minute deltas as written (several rows per minute; they add up).

with

source as (

    select * from {{ source('lake', 'live_minutes') }}

),

final as (

    select
        cast(minute as timestamptz) as minute_at,
        events,
        new_shoppers,
        product_views,
        cart_adds,
        checkouts,
        orders,
        gmv_fen
    from source

)

select * from final
