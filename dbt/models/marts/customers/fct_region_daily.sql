-- Per shop day and region (province, city from the shopper's identify traits; unknown when never given):
-- active shoppers, buyers, paid orders and GMV.

with

events as (

    select * from {{ ref('stg_lake__events') }}

),

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

),

users as (

    select person_id, coalesce(province, country, '未知') as province, coalesce(city, '未知') as city
    from {{ ref('dim_users') }}

),

active as (

    select event_date, person_id from events group by all

),

activity as (

    select active.event_date, users.province, users.city, count(*) as active_shoppers
    from active
    inner join users using (person_id)
    group by all

),

sales as (

    select
        paid_orders.paid_date as event_date,
        coalesce(users.province, '未知') as province,
        coalesce(users.city, '未知') as city,
        count(distinct paid_orders.person_id) as buyers,
        count(*) as orders,
        sum(paid_orders.amount_fen)::bigint as gmv_fen
    from paid_orders
    left join users using (person_id)
    group by all

),

final as (

    select
        event_date,
        province,
        city,
        coalesce(activity.active_shoppers, 0) as active_shoppers,
        coalesce(sales.buyers, 0) as buyers,
        coalesce(sales.orders, 0) as orders,
        coalesce(sales.gmv_fen, 0) as gmv_fen,
        {{ fen_to_yuan('coalesce(sales.gmv_fen, 0)') }} as gmv_yuan
    from activity
    full outer join sales using (event_date, province, city)

)

select * from final
