-- depends_on: {{ ref('stg_lake__events') }}, {{ ref('stg_order_book__events') }}, {{ ref('int_orders_paid') }}, {{ ref('int_people_merged') }}
-- The daily shopping funnel per channel and WeChat scene: product viewed → added to cart → checkout started
-- → paid, in distinct shoppers, plus the day's paid orders and GMV in the same channel and scene.

-- Incremental by shop date, like the journeys it counts (macro touched_shop_dates).

{{ config(
    materialized='incremental',
    unique_key='event_date',
    incremental_strategy='delete+insert',
    on_schema_change='ignore'
) }}

with

{%- if is_incremental() %}

touched as (

    {{ touched_shop_dates() }}

),
{%- endif %}

journeys as (

    select * from {{ ref('int_funnel_journeys_sequenced') }}
    {%- if is_incremental() %}
    where event_date in (select event_date from touched)
    {%- endif %}

),

paid_orders as (

    select * from {{ ref('int_orders_paid') }}
    {%- if is_incremental() %}
    where paid_date in (select event_date from touched)
    {%- endif %}

),

funnel as (

    select
        event_date,
        channel,
        scene,
        count(*) as viewed_shoppers,
        count(added_at) as added_shoppers,
        count(checkout_started_at) as checkout_shoppers,
        count(paid_at) as paid_shoppers
    from journeys
    group by all

),

orders as (

    select
        paid_date as event_date,
        channel,
        scene,
        count(*) as orders,
        sum(amount_fen)::bigint as gmv_fen
    from paid_orders
    group by all

),

cells as (

    select event_date, channel, scene from funnel
    union
    select event_date, channel, scene from orders

),

final as (

    select
        cells.event_date,
        cells.channel,
        cells.scene,
        coalesce(funnel.viewed_shoppers, 0) as viewed_shoppers,
        coalesce(funnel.added_shoppers, 0) as added_shoppers,
        coalesce(funnel.checkout_shoppers, 0) as checkout_shoppers,
        coalesce(funnel.paid_shoppers, 0) as paid_shoppers,
        coalesce(orders.orders, 0) as orders,
        coalesce(orders.gmv_fen, 0) as gmv_fen,
        {{ fen_to_yuan('coalesce(orders.gmv_fen, 0)') }} as gmv_yuan,
        funnel.added_shoppers / nullif(funnel.viewed_shoppers, 0) as view_to_cart_rate,
        funnel.checkout_shoppers / nullif(funnel.added_shoppers, 0) as cart_to_checkout_rate,
        funnel.paid_shoppers / nullif(funnel.checkout_shoppers, 0) as checkout_to_paid_rate,
        funnel.paid_shoppers / nullif(funnel.viewed_shoppers, 0) as view_to_paid_rate
    from cells
    left join funnel
        using (event_date, channel, scene)
    left join orders
        using (event_date, channel, scene)

)

select * from final
order by event_date, channel, scene
