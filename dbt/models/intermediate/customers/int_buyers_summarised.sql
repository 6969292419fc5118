-- depends_on: {{ ref('int_people_merged') }}
-- What a shopper's orders say about them, one row per shopper with any order: paid orders, first and last payment,
-- what they paid and had refunded, the shipping address of their latest order that had one, the weeks and months
-- they paid in and the days between consecutive paid orders. dim_users, fct_retention_cohorts and fct_repurchase
-- read this instead of every order.

-- Incremental per buyer: a build redoes the buyers_touched_this_run() (the shoppers of the orders recomputed in this
-- run, before and after, and merged people) from all their orders, and no others; every buyer while payments are
-- the client's reports. A pre-hook deletes the touched buyers' rows first: one with no order left keeps none.

{{ config(
    materialized='incremental',
    unique_key='person_id',
    incremental_strategy='delete+insert',
    on_schema_change='ignore',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where {{ is_buyer_to_rebuild() }}{% endif %}"
) }}

with

paid_orders as (

    select * from {{ ref('int_orders_paid') }}
    where {{ is_buyer_to_rebuild() }}

),

placed_orders as (

    select * from {{ ref('int_orders_placed') }}
    where {{ is_buyer_to_rebuild() }}

),

sequenced as (

    select
        person_id,
        paid_at,
        paid_date,
        amount_fen,
        date_diff('day', lag(paid_at) over (partition by person_id order by paid_at, order_id), paid_at)
            as days_since_previous_order
    from paid_orders

),

purchases as (

    select
        person_id,
        count(*) as orders,
        min(paid_at) as first_order_at,
        max(paid_at) as last_order_at,
        min(paid_date) as first_order_date,
        max(paid_date) as last_order_date,
        sum(amount_fen)::bigint as paid_fen,
        list(distinct date_trunc('week', paid_date)::date order by date_trunc('week', paid_date)::date)
            as paid_weeks,
        list(distinct date_trunc('month', paid_date)::date order by date_trunc('month', paid_date)::date)
            as paid_months,
        list(days_since_previous_order order by paid_at) filter (where days_since_previous_order is not null)
            as days_between_orders
    from sequenced
    group by person_id

),

placed as (

    select
        person_id,
        sum(refunded_fen)::bigint as refunded_fen,
        -- the address of the shopper's latest order that carried one
        arg_max({'province': shipping_province, 'city': shipping_city}, placed_at)
            filter (where shipping_province is not null or shipping_city is not null) as shipping_address
    from placed_orders
    group by person_id

),

final as (

    select
        person_id,
        coalesce(purchases.orders, 0) as orders,
        purchases.first_order_at,
        purchases.last_order_at,
        purchases.first_order_date,
        purchases.last_order_date,
        coalesce(purchases.paid_fen, 0) as paid_fen,
        coalesce(placed.refunded_fen, 0) as refunded_fen,
        placed.shipping_address is not null as has_shipping_address,
        placed.shipping_address.province as shipping_province,
        placed.shipping_address.city as shipping_city,
        coalesce(purchases.paid_weeks, []) as paid_weeks,
        coalesce(purchases.paid_months, []) as paid_months,
        coalesce(purchases.days_between_orders, []) as days_between_orders,
        timestamptz '{{ run_started_at }}' as built_at
    from purchases
    full outer join placed using (person_id)

)

select * from final
