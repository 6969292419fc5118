{#- The shop dates whose daily numbers this run can change, for the marts that are incremental by date: the dates
    of the events staged in this run, the paid dates of orders whose order-book events were staged in this run,
    every date a merged shopper was active on (a merge changes who counts once), and every date at all when this
    run staged the first order-book events (paid orders switch from client reports to verified payments). -#}
{% macro touched_shop_dates() -%}
    select event_date from {{ ref('stg_lake__events') }}
    where staged_at = timestamptz '{{ run_started_at }}'
        or person_id in (
            select person_id from {{ ref('int_people_merged') }}
            union
            select shopper_id from {{ ref('int_people_merged') }}
        )
        or not exists (
            select 1 from {{ ref('stg_order_book__events') }}
            where staged_at < timestamptz '{{ run_started_at }}'
        )
    union
    select paid_date from {{ ref('int_orders_paid') }}
    where order_id in (
        select order_id from {{ ref('stg_order_book__events') }}
        where staged_at = timestamptz '{{ run_started_at }}'
    )
{%- endmacro %}
