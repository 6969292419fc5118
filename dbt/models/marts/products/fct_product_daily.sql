-- The hot list: per shop day and product, views, viewers, adds to cart, paid units and revenue, and the
-- view-to-purchase conversion.

with

events as (

    {{ shopper_events() }}

),

lines as (

    select * from {{ ref('int_order_lines_paid') }}

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
