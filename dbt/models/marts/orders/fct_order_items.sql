-- One row per order line of the order book: the lines of OrderPlaced, [sku_id, quantity, unit_price_fen].

-- Incremental by order: the lines of the orders int_orders_placed recomputed in this run.

{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='ignore'
) }}

with

orders as (

    select * from {{ ref('int_orders_placed') }}
    {%- if is_incremental() %}
    where built_at = timestamptz '{{ run_started_at }}'
    {%- endif %}

),

positions as (

    select
        order_id,
        person_id,
        placed_date,
        paid_at is not null as is_paid,
        lines,
        unnest(range(coalesce(json_array_length(lines), 0)::bigint)) as position
    from orders

),

lines as (

    select
        *,
        position + 1 as line_number,
        json_extract(lines, '$[' || position || ']') as line
    from positions

),

final as (

    select
        order_id || '-' || line_number as order_item_id,
        order_id,
        line_number::integer as line_number,
        person_id,
        line ->> 0 as product_id,
        cast(line ->> 1 as bigint) as quantity,
        cast(line ->> 2 as bigint) as unit_price_fen,
        cast(line ->> 1 as bigint) * cast(line ->> 2 as bigint) as line_fen,
        is_paid,
        placed_date,
        timestamptz '{{ run_started_at }}' as built_at
    from lines

)

select * from final
