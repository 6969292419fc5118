-- Paid orders, one row per order. Until the order core publishes verified payments, an order counts as paid
-- when the mini-program reports "Order Completed"; a client may report one order twice (two message ids),
-- so the first report wins. Replace the `reported` CTE with the verified payments when they arrive.

with

events as (

    select * from {{ ref('stg_lake__events') }}

),

reported as (

    select
        coalesce(order_id, message_id) as order_id,
        person_id,
        event_at,
        event_date,
        channel,
        scene,
        coalesce(total_fen, revenue_fen, 0) as amount_fen,
        message_id
    from events
    where call_type = 'track'
        and event_name = 'Order Completed'

),

first_report as (

    select *
    from reported
    qualify row_number() over (partition by order_id order by event_at, message_id) = 1

),

final as (

    select
        order_id,
        person_id,
        channel,
        scene,
        amount_fen,
        event_at as paid_at,
        event_date as paid_date
    from first_report

)

select * from final
