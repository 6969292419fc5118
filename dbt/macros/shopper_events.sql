{#- The staged events with person_id replaced by the shopper a merged person belongs to (int_people_merged): a
    shopper seen on two phones is one person in every model that counts people. Everything else is as staged. -#}
{% macro shopper_events() -%}
    select events.* replace (coalesce(merged.shopper_id, events.person_id) as person_id)
    from {{ ref('stg_lake__events') }} as events
    left join {{ ref('int_people_merged') }} as merged using (person_id)
{%- endmacro %}

{#- The shoppers an incremental per-shopper model recomputes in this run: those the run staged events for, and every
    merged shopper (a merge can hand a person's earlier events to another shopper). -#}
{% macro shoppers_staged_this_run() -%}
    select person_id from ({{ shopper_events() }}) where staged_at = timestamptz '{{ run_started_at }}'
    union
    select shopper_id from {{ ref('int_people_merged') }}
{%- endmacro %}

{#- The config of a model incremental per shopper: delete+insert on person_id, and a pre-hook that deletes the
    rows of every merged person (the merge handed their events to the shopper, who is rebuilt). -#}
{% macro per_shopper_incremental_config() -%}
    {{ config(
        materialized='incremental',
        unique_key='person_id',
        incremental_strategy='delete+insert',
        on_schema_change='ignore',
        pre_hook="{% if is_incremental() %}delete from {{ this }} where person_id in (select person_id from "
            ~ "{{ ref('int_people_merged') }}){% endif %}"
    ) }}
{%- endmacro %}

{#- The shopper events a per-shopper incremental model reads: every event in a full build; in an incremental one,
    the events of the shoppers_staged_this_run() and of the shoppers `also_touched` (a query of person_id) names. -#}
{% macro events_of_shoppers_to_rebuild(also_touched=none) -%}
    select * from ({{ shopper_events() }})
    {%- if is_incremental() %}
    where person_id in (
        {{ shoppers_staged_this_run() }}
        {%- if also_touched is not none %}
        union
        {{ also_touched }}
        {%- endif %}
    )
    {%- endif %}
{%- endmacro %}
