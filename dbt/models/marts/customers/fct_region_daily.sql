-- Per shop day and region: active shoppers in the region of their profile (dim_users: their latest shipping
-- address, else their identify traits, else unknown), and buyers, paid orders and GMV where each order was
-- shipped (else the buyer's profile region). region_source says which the row's region came from.

with

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

),

users as (

    select
        person_id,
        coalesce(province, country, '未知') as province,
        coalesce(city, '未知') as city,
        region_source
    from {{ ref('dim_users') }}

),

active as (

    -- the days each shopper had events on, kept per shopper by int_users_profiled (incremental), so a build
    -- does not group every event again
    select person_id, unnest(active_dates) as event_date from {{ ref('int_users_profiled') }}

),

activity as (

    select active.event_date, users.province, users.city, users.region_source, count(*) as active_shoppers
    from active
    inner join users using (person_id)
    group by all

),

sales as (

    select
        paid_orders.paid_date as event_date,
        case when placed.has_address then coalesce(placed.shipping_province, '未知') else coalesce(users.province, '未知') end
            as province,
        case when placed.has_address then coalesce(placed.shipping_city, '未知') else coalesce(users.city, '未知') end
            as city,
        case when placed.has_address then 'shipping_address' else coalesce(users.region_source, 'unknown') end
            as region_source,
        count(distinct paid_orders.person_id) as buyers,
        count(*) as orders,
        sum(paid_orders.amount_fen)::bigint as gmv_fen
    from paid_orders
    left join users using (person_id)
    left join (
        select
            order_id,
            shipping_province,
            shipping_city,
            shipping_province is not null or shipping_city is not null as has_address
        from {{ ref('int_orders_placed') }}
    ) as placed using (order_id)
    group by all

),

final as (

    select
        event_date,
        province,
        city,
        region_source,
        coalesce(activity.active_shoppers, 0) as active_shoppers,
        coalesce(sales.buyers, 0) as buyers,
        coalesce(sales.orders, 0) as orders,
        coalesce(sales.gmv_fen, 0) as gmv_fen,
        {{ fen_to_yuan('coalesce(sales.gmv_fen, 0)') }} as gmv_yuan
    from activity
    full outer join sales using (event_date, province, city, region_source)

)

select * from final
