-- depends_on: {{ ref('stg_lake__events') }}, {{ ref('stg_order_book__events') }}, {{ ref('int_orders_paid') }}, {{ ref('int_people_merged') }}
-- The hot list: per shop day and product, views, viewers, adds to cart, paid units and revenue, and the
-- view-to-purchase conversion.

-- Incremental by shop date (macro touched_shop_dates).

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

events as not materialized (

    select * from ({{ shopper_events() }})
    {%- if is_incremental() %}
    where event_date in (select event_date from touched)
    {%- endif %}

),

lines as (

    select * from {{ ref('int_order_lines_paid') }}
    {%- if is_incremental() %}
    where paid_date in (select event_date from touched)
    {%- endif %}

),

activity as (

    select
        event_date,
        product_id,
        count(*) filter (where event_name = 'Product Viewed') as views,
        count(distinct person_id) filter (where event_name = 'Product Viewed') as viewers,
        count(*) filter (where event_name = 'Product Added') as cart_adds
    from events
    where product_id is not null
        and event_name in ('Product Viewed', 'Product Added')
    group by all

),

sales as (

    select
        paid_date as event_date,
        product_id,
        count(distinct person_id) as buyers,
        sum(quantity)::bigint as units,
        sum(line_fen)::bigint as revenue_fen
    from lines
    group by all

),

final as (

    select
        event_date,
        product_id,
        coalesce(activity.views, 0) as views,
        coalesce(activity.viewers, 0) as viewers,
        coalesce(activity.cart_adds, 0) as cart_adds,
        coalesce(sales.buyers, 0) as buyers,
        coalesce(sales.units, 0) as units,
        coalesce(sales.revenue_fen, 0) as revenue_fen,
        {{ fen_to_yuan('coalesce(sales.revenue_fen, 0)') }} as revenue_yuan,
        sales.buyers / nullif(activity.viewers, 0) as view_to_purchase_rate
    from activity
    full outer join sales using (event_date, product_id)

)

select * from final
