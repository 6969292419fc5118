-- Data quality: what the mini-program said was paid ("Order Completed") against what the order book verified.
-- One row per order either side knows; the gap is a number on a dashboard, never silently dropped.

-- Incremental by order: a build recomputes the orders int_orders_placed recomputed in this run (new order-book
-- events or reports, a shopper who moved) and every order reported by a shopper this run staged events for or a
-- merged shopper (a report the order book never saw), from all of the order's reports; no others.

{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='ignore'
) }}

with

events as not materialized (

    {{ shopper_events() }}

),

-- the client's order reports: read twice in an incremental build (one scan of the events), once in a full one
order_reports as {% if is_incremental() %}materialized{% else %}not materialized{% endif %} (

    select order_id, person_id, total_fen, revenue_fen, event_at, event_date, message_id
    from events
    where call_type = 'track'
        and event_name = 'Order Completed'
        and order_id is not null

),

orders as (

    select * from {{ ref('int_orders_placed') }}

),

{%- if is_incremental() %}

touched as (

    select order_id from orders where built_at = timestamptz '{{ run_started_at }}'
    union
    select order_id
    from order_reports
    where person_id in ({{ shoppers_staged_this_run() }})

),
{%- endif %}

reported as (

    select
        order_id,
        person_id,
        coalesce(total_fen, revenue_fen, 0) as reported_fen,
        event_at as reported_at,
        event_date as reported_date
    from order_reports
    {%- if is_incremental() %}
    where order_id in (select order_id from touched)
    {%- endif %}
    qualify row_number() over (partition by order_id order by event_at, message_id) = 1

),

verified as (

    select order_id, person_id, paid_fen, paid_at, paid_date
    from orders
    where paid_at is not null
        {%- if is_incremental() %}
        and order_id in (select order_id from touched)
        {%- endif %}

),

final as (

    select
        order_id,
        coalesce(verified.person_id, reported.person_id) as person_id,
        coalesce(verified.paid_date, reported.reported_date) as order_date,
        reported.reported_fen,
        verified.paid_fen as verified_fen,
        coalesce(reported.reported_fen, 0) - coalesce(verified.paid_fen, 0) as gap_fen,
        case
            when verified.order_id is null then 'reported_not_paid'
            when reported.order_id is null then 'paid_not_reported'
            when reported.reported_fen != verified.paid_fen then 'amount_differs'
            else 'matched'
        end as reconciliation_status,
        reported.reported_at,
        verified.paid_at,
        timestamptz '{{ run_started_at }}' as built_at
    from reported
    full outer join verified using (order_id)

)

select * from final
