-- One row per product seen in events or sold in the order book: its latest name, category and price, and
-- lifetime views, adds, units and revenue.

with

events as not materialized (

    select * from {{ ref('stg_lake__events') }}

),

lines as (

    select * from {{ ref('int_order_lines_paid') }}

),

seen as (

    select
        product_id,
        arg_max(product_name, event_at) filter (where product_name is not null) as name,
        arg_max(product_category, event_at) filter (where product_category is not null)
            as category,
        arg_max(price_fen, event_at) filter (where price_fen is not null) as latest_price_fen,
        min(event_at) as first_seen_at,
        count(*) filter (where event_name = 'Product Viewed') as views,
        count(*) filter (where event_name = 'Product Added') as cart_adds
    from events
    where product_id is not null
    group by product_id

),

sold as (

    select product_id, sum(quantity)::bigint as units_sold, sum(line_fen)::bigint as revenue_fen
    from lines
    group by product_id

),

final as (

    select
        product_id,
        seen.name,
        coalesce(seen.category, '其他') as category,
        seen.latest_price_fen,
        seen.first_seen_at,
        coalesce(seen.views, 0) as views,
        coalesce(seen.cart_adds, 0) as cart_adds,
        coalesce(sold.units_sold, 0) as units_sold,
        coalesce(sold.revenue_fen, 0) as revenue_fen
    from seen
    full outer join sold using (product_id)

)

select * from final
