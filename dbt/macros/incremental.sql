{#- Incremental builds re-read a window of recently received rows, not only rows newer than the last build: the
    sink's workers and the outbox relay can write a row received a little before the newest one already built.
    The window starts var('incremental_lookback_hours') before the newest received_at the model holds. -#}
{% macro incremental_window_start(column='received_at') -%}
    {#- unit tests render models without a relation (this is none): they test the full-build SQL -#}
    {%- if execute and this is not none and is_incremental() -%}
        {%- set newest = run_query(
            "select coalesce(max(" ~ column ~ "), timestamptz '1970-01-01 00:00:00+00') - to_hours("
            ~ var('incremental_lookback_hours') ~ ") from " ~ this
        ).columns[0].values()[0] -%}
        {{- return(newest) -}}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}

{#- The config of a model incremental per paid order (int_orders_paid, int_order_lines_paid): delete+insert on
    order_id, and a pre-hook that deletes the client's reports (paid_source 'client_report') once the order book
    holds a verified payment: they stood in for payments only until then, and a full build would not have them. -#}
{% macro per_paid_order_incremental_config() -%}
    {{ config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='ignore',
        pre_hook="{% if is_incremental() %}delete from {{ this }} where paid_source = 'client_report' and exists "
            ~ "(select 1 from {{ ref('int_orders_placed') }} where paid_at is not null){% endif %}"
    ) }}
{%- endmacro %}
