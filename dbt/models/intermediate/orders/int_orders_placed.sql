-- Orders as the order book knows them: one row per placed order with its verified payment, refunds and latest
-- status, and the shopper, channel and scene it belongs to (the client's Order Completed report of the same
-- order, else the logged-in user's shopper and their last touch before paying).

-- Incremental by order: a build recomputes the orders that anything staged in this run can change — orders with
-- new order-book events or a new client report, and the orders of every shopper with new events (their last
-- touch), of every logged-in user with new events (who they are) and of every merged person — and no others.
-- `built_at` says which run last computed the row, so the order marts downstream rebuild exactly those orders, and
-- `previous_person_id` whose row it was before (null in a full build and for a new order), so the per-buyer models
-- also redo the shopper an order moved away from.

{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='ignore'
) }}

with

{%- if is_incremental() %}

new_events as (

    select person_id, user_id, order_id
    from ({{ shopper_events() }})
    where staged_at = timestamptz '{{ run_started_at }}'

),

merged as (

    select person_id, shopper_id from {{ ref('int_people_merged') }}

),

touched_people as (

    select person_id from new_events
    union
    select shopper_id from merged
    union
    select person_id from merged

),

touched_orders as (

    select order_id
    from {{ ref('stg_order_book__events') }}
    where staged_at = timestamptz '{{ run_started_at }}' and order_id is not null
    union
    select order_id from new_events where order_id is not null
    union
    select order_id
    from {{ this }}
    where person_id in (select person_id from touched_people)
        or user_id in (select user_id from new_events where user_id is not null)

),
{%- endif %}

-- In an incremental build only the touched orders' events: a few thousand rows, read once rather than once per use.
order_events as {% if is_incremental() %}materialized{% else %}not materialized{% endif %} (

    select * from {{ ref('stg_order_book__events') }}
    {%- if is_incremental() %}
    where order_id in (select order_id from touched_orders)
    {%- endif %}

),

events as not materialized (

    {{ shopper_events() }}

),

users as (

    select * from {{ ref('int_users_identified') }}

),

placed as (

    select *
    from order_events
    where event_name = 'OrderPlaced'
    qualify row_number() over (partition by order_id order by occurred_at, event_id) = 1

),

payments as (

    select
        order_id,
        min(occurred_at) as paid_at,
        arg_min(transaction_id, occurred_at) as transaction_id,
        sum(total_fen)::bigint as paid_fen,
        count(*) as payments
    from order_events
    where event_name = 'OrderPaid'
    group by order_id

),

refunds as (

    select
        order_id,
        sum(amount_fen)::bigint as refunded_fen,
        max(occurred_at) as last_refunded_at
    from order_events
    where event_name = 'RefundSucceeded'
    group by order_id

),

latest_status as (

    select
        order_id,
        event_name as latest_event,
        occurred_at as latest_event_at
    from order_events
    where event_name in ('OrderPlaced', 'OrderPaid', 'OrderShipped', 'OrderCompleted', 'OrderCancelled',
                         'OrderClosed', 'RefundSucceeded')
    qualify row_number() over (partition by order_id order by occurred_at desc, event_id desc) = 1

),

client_reports as (

    select
        order_id,
        person_id,
        channel,
        scene
    from events
    where call_type = 'track'
        and event_name = 'Order Completed'
        and order_id is not null
        {%- if is_incremental() %}
        and order_id in (select order_id from order_events)
        {%- endif %}
    qualify row_number() over (partition by order_id order by event_at, message_id) = 1

),

with_shopper as (

    select
        placed.*,
        coalesce(client_reports.person_id, users.person_id, placed.user_id) as person_id,
        client_reports.channel as reported_channel,
        client_reports.scene as reported_scene,
        payments.paid_at,
        payments.transaction_id,
        coalesce(payments.paid_fen, 0) as paid_fen,
        coalesce(refunds.refunded_fen, 0) as refunded_fen,
        latest_status.latest_event
    from placed
    left join client_reports using (order_id)
    left join users using (user_id)
    left join payments using (order_id)
    left join refunds using (order_id)
    left join latest_status using (order_id)

),

last_touch as (

    -- The shopper's last event at or before paying (or placing, when unpaid): an as-of join finds it per
    -- order without pairing the order with every earlier event of the shopper. Only orders the client did not
    -- report need it, so only their shoppers' events are read: the join sorts what it is given, and given every
    -- event it sorted all 10 M of them even when every order had a report (2.8 of 7.5 CPU-s at 10 M events).
    select
        with_shopper.order_id,
        events.channel,
        events.scene
    from with_shopper
    asof inner join (
        select person_id, event_at, channel, scene
        from events
        where person_id in (select person_id from with_shopper where reported_channel is null)
    ) as events
        on events.person_id = with_shopper.person_id
        and coalesce(with_shopper.paid_at, with_shopper.occurred_at) >= events.event_at
    where with_shopper.reported_channel is null

),

final as (

    select
        with_shopper.order_id,
        with_shopper.user_id,
        with_shopper.person_id,
        coalesce(with_shopper.reported_channel, last_touch.channel, 'direct') as channel,
        coalesce(with_shopper.reported_scene, last_touch.scene, 0) as scene,
        with_shopper.coupon_id,
        with_shopper.lines,
        with_shopper.shipping_province,
        with_shopper.shipping_city,
        with_shopper.total_fen,
        coalesce(with_shopper.discount_fen, 0) as discount_fen,
        with_shopper.paid_fen,
        with_shopper.refunded_fen,
        with_shopper.occurred_at as placed_at,
        with_shopper.occurred_date as placed_date,
        with_shopper.paid_at,
        {{ shop_date('with_shopper.paid_at') }} as paid_date,
        with_shopper.transaction_id,
        case
            when with_shopper.refunded_fen > 0 and with_shopper.refunded_fen >= with_shopper.paid_fen
                then 'refunded'
            when with_shopper.latest_event = 'OrderCompleted' then 'completed'
            when with_shopper.latest_event = 'OrderShipped' then 'shipped'
            when with_shopper.latest_event = 'OrderCancelled' then 'cancelled'
            when with_shopper.latest_event = 'OrderClosed' then 'closed'
            when with_shopper.paid_at is not null then 'paid'
            else 'placed'
        end as status,
        {%- if is_incremental() %}
        before.person_id as previous_person_id,
        {%- else %}
        null::varchar as previous_person_id,
        {%- endif %}
        timestamptz '{{ run_started_at }}' as built_at
    from with_shopper
    left join last_touch using (order_id)
    {%- if is_incremental() %}
    left join (select order_id, person_id from {{ this }}) as before using (order_id)
    {%- endif %}

)

select * from final
