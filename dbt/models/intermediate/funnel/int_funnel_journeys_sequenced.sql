-- depends_on: {{ ref('stg_lake__events') }}, {{ ref('stg_order_book__events') }}, {{ ref('int_orders_paid') }}, {{ ref('int_people_merged') }}
-- A journey is one shopper's day in one channel and scene that began with a product view. Each later step
-- counts only when it happened at or after the step before it (by event time, not by arrival order), so a
-- shopper who reaches a step has reached every step before it.

-- Incremental by shop date: a build recomputes the dates this run touched (macro touched_shop_dates).

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

paid_orders as (

    select * from {{ ref('int_orders_paid') }}
    {%- if is_incremental() %}
    where paid_date in (select event_date from touched)
    {%- endif %}

),

steps as (

    select
        person_id,
        event_date,
        channel,
        scene,
        event_at,
        case event_name
            when 'Product Viewed' then 'viewed'
            when 'Product Added' then 'added'
            when 'Checkout Started' then 'checkout_started'
        end as step
    from events
    where call_type = 'track'
        and event_name in ('Product Viewed', 'Product Added', 'Checkout Started')

    union all

    select
        person_id,
        paid_date as event_date,
        channel,
        scene,
        paid_at as event_at,
        'paid' as step
    from paid_orders

),

viewed as (

    select
        person_id,
        event_date,
        channel,
        scene,
        min(event_at) as viewed_at
    from steps
    where step = 'viewed'
    group by all

),

added as (

    select
        viewed.person_id,
        viewed.event_date,
        viewed.channel,
        viewed.scene,
        min(steps.event_at) as added_at
    from viewed
    inner join steps
        using (person_id, event_date, channel, scene)
    where steps.step = 'added'
        and steps.event_at >= viewed.viewed_at
    group by all

),

checkout_started as (

    select
        added.person_id,
        added.event_date,
        added.channel,
        added.scene,
        min(steps.event_at) as checkout_started_at
    from added
    inner join steps
        using (person_id, event_date, channel, scene)
    where steps.step = 'checkout_started'
        and steps.event_at >= added.added_at
    group by all

),

paid as (

    select
        checkout_started.person_id,
        checkout_started.event_date,
        checkout_started.channel,
        checkout_started.scene,
        min(steps.event_at) as paid_at
    from checkout_started
    inner join steps
        using (person_id, event_date, channel, scene)
    where steps.step = 'paid'
        and steps.event_at >= checkout_started.checkout_started_at
    group by all

),

final as (

    select
        viewed.person_id,
        viewed.event_date,
        viewed.channel,
        viewed.scene,
        viewed.viewed_at,
        added.added_at,
        checkout_started.checkout_started_at,
        paid.paid_at,
        timestamptz '{{ run_started_at }}' as built_at
    from viewed
    left join added
        using (person_id, event_date, channel, scene)
    left join checkout_started
        using (person_id, event_date, channel, scene)
    left join paid
        using (person_id, event_date, channel, scene)

)

select * from final
